//! The webmail's iCalendar side of an event: what the event form shows of a stored
//! VEVENT, and the object a submitted form makes, always through calcard's types (an
//! `ICalendar` built or parsed, modified and written by its writer; never properties
//! formatted by hand).
//!
//! Implementation notes:
//!
//! - A new event is one VCALENDAR with one VEVENT. Its times are written in the user's
//!   webmail time zone (`prefs`) as `DTSTART;TZID=<IANA name>` (UTC when none is set: a
//!   `Z` time); all-day events as `VALUE=DATE` with the exclusive DTEND of RFC 5545.
//!   Deviation: no VTIMEZONE is added for the TZID; the IANA name is resolved by name, as
//!   `protocols::caldav::timerange` and most clients do.
//! - An edit is parse-modify-write: only the properties the form owns (SUMMARY, DTSTART,
//!   DTEND/DURATION, LOCATION, DESCRIPTION, ATTENDEE, DTSTAMP, SEQUENCE and, when the form
//!   chose a simple repeat, RRULE) are replaced on the master VEVENT; every other property,
//!   alarm and overridden instance stays as the other client wrote it. An attendee still
//!   in the list keeps its entry (and its PARTSTAT). A rule the form cannot show (BYDAY,
//!   COUNT, …) is kept unless the user picks another repeat.
//! - Accept / Tentative / Decline set the PARTSTAT of the account's ATTENDEE entries in
//!   the master and every overridden instance.

use calcard::common::timezone::Tz as CalTz;
use calcard::common::{IanaString, PartialDateTime};
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarFrequency,
    ICalendarParameter, ICalendarParameterName, ICalendarParameterValue,
    ICalendarParticipationStatus, ICalendarProperty, ICalendarRecurrenceRule, ICalendarValue,
    ICalendarValueType, Uri,
};
use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

use super::MailError;
use crate::protocols::caldav::validate::{parse_calendar, top_level};

/// Longest title, location (characters) and description (bytes) accepted.
pub const MAX_TITLE: usize = 500;
pub const MAX_DESCRIPTION: usize = 64 * 1024;
/// Most attendees one event takes from the form.
pub const MAX_ATTENDEES: usize = 100;

/// The repeat choices of the form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    Never,
    Daily,
    Weekly,
    Monthly,
    Yearly,
    /// A rule written by another client, left as it is.
    Keep,
}

impl Repeat {
    pub fn parse(s: &str) -> Result<Repeat, MailError> {
        Ok(match s {
            "" | "never" => Repeat::Never,
            "daily" => Repeat::Daily,
            "weekly" => Repeat::Weekly,
            "monthly" => Repeat::Monthly,
            "yearly" => Repeat::Yearly,
            "keep" => Repeat::Keep,
            _ => return Err(MailError::Invalid(format!("unknown repeat {s:?}"))),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Repeat::Never => "never",
            Repeat::Daily => "daily",
            Repeat::Weekly => "weekly",
            Repeat::Monthly => "monthly",
            Repeat::Yearly => "yearly",
            Repeat::Keep => "keep",
        }
    }

    fn freq(self) -> Option<ICalendarFrequency> {
        match self {
            Repeat::Daily => Some(ICalendarFrequency::Daily),
            Repeat::Weekly => Some(ICalendarFrequency::Weekly),
            Repeat::Monthly => Some(ICalendarFrequency::Monthly),
            Repeat::Yearly => Some(ICalendarFrequency::Yearly),
            Repeat::Never | Repeat::Keep => None,
        }
    }
}

/// The event as the form shows and submits it; times are local to the user's zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventFields {
    pub title: String,
    pub all_day: bool,
    /// `YYYY-MM-DD`.
    pub start_date: String,
    /// `HH:MM` (ignored when all-day).
    pub start_time: String,
    /// All-day: the last day, inclusive.
    pub end_date: String,
    pub end_time: String,
    pub location: String,
    pub description: String,
    pub repeat: Repeat,
    /// One address per entry.
    pub attendees: Vec<String>,
}

/// What the page shows of a stored event besides its fields.
#[derive(Clone, Debug, Default)]
pub struct EventFacts {
    pub organizer: String,
    /// (address, PARTSTAT) of every attendee of the master.
    pub attendees: Vec<(String, String)>,
    /// The account's own PARTSTAT when it is an attendee and not the organizer: the
    /// Accept / Tentative / Decline buttons show.
    pub my_partstat: Option<String>,
}

/// The instants a form's fields name in `zone`: (start, end) as local date-times, checked.
struct Span {
    start: NaiveDateTime,
    end: NaiveDateTime,
}

fn date(s: &str, what: &str) -> Result<NaiveDate, MailError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| MailError::Invalid(format!("give the {what} date as YYYY-MM-DD")))
}

fn time(s: &str, what: &str) -> Result<NaiveTime, MailError> {
    let s = s.trim();
    NaiveTime::parse_from_str(s, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
        .map_err(|_| MailError::Invalid(format!("give the {what} time as HH:MM")))
}

/// Whether `s` looks like one mailbox address (no display name, no list).
pub fn plain_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.len() <= 254
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;:\"()[]\\".contains(c))
}

/// The attendee list of the form's text: addresses separated by commas, semicolons or
/// lines, `Name <addr>` read as `addr`, each once (case-insensitive).
pub fn parse_attendees(text: &str) -> Result<Vec<String>, MailError> {
    let mut out: Vec<String> = Vec::new();
    for part in text.split([',', ';', '\n']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let addr = match (part.rfind('<'), part.rfind('>')) {
            (Some(a), Some(b)) if a < b => part[a + 1..b].trim(),
            _ => part,
        };
        if !plain_address(addr) {
            return Err(MailError::Invalid(format!(
                "{part:?} is not an e-mail address"
            )));
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(addr)) {
            out.push(addr.to_string());
        }
    }
    if out.len() > MAX_ATTENDEES {
        return Err(MailError::Invalid(format!(
            "at most {MAX_ATTENDEES} attendees"
        )));
    }
    Ok(out)
}

impl EventFields {
    fn span(&self, zone: Tz) -> Result<Span, MailError> {
        let sd = date(&self.start_date, "start")?;
        let ed = if self.end_date.trim().is_empty() {
            sd
        } else {
            date(&self.end_date, "end")?
        };
        if self.all_day {
            if ed < sd {
                return Err(MailError::Invalid("the event ends before it starts".into()));
            }
            return Ok(Span {
                start: sd.and_time(NaiveTime::MIN),
                end: (ed + Duration::days(1)).and_time(NaiveTime::MIN),
            });
        }
        let st = time(&self.start_time, "start")?;
        let et = if self.end_time.trim().is_empty() {
            st
        } else {
            time(&self.end_time, "end")?
        };
        let (start, end) = (sd.and_time(st), ed.and_time(et));
        if end < start {
            return Err(MailError::Invalid("the event ends before it starts".into()));
        }
        for (t, what) in [(start, "start"), (end, "end")] {
            if zone.from_local_datetime(&t).earliest().is_none() {
                return Err(MailError::Invalid(format!(
                    "the {what} time does not exist in your time zone ({})",
                    zone.name()
                )));
            }
        }
        Ok(Span { start, end })
    }

    fn check(&self) -> Result<(), MailError> {
        let title = self.title.trim();
        if title.is_empty() {
            return Err(MailError::Invalid("give the event a title".into()));
        }
        if title.chars().count() > MAX_TITLE || self.location.chars().count() > MAX_TITLE {
            return Err(MailError::Invalid(format!(
                "a title or location has at most {MAX_TITLE} characters"
            )));
        }
        if self.description.len() > MAX_DESCRIPTION {
            return Err(MailError::Invalid(format!(
                "a description has at most {MAX_DESCRIPTION} bytes"
            )));
        }
        Ok(())
    }
}

fn naive_ts(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp()
}

/// DTSTART or DTEND for a local time `t` in `zone` (a date when `all_day`).
fn date_entry(
    name: ICalendarProperty,
    t: NaiveDateTime,
    all_day: bool,
    zone: Tz,
) -> ICalendarEntry {
    if all_day {
        return ICalendarEntry::new(name)
            .with_param(ICalendarParameter::value(ICalendarValueType::Date))
            .with_value(ICalendarValue::PartialDateTime(Box::new(
                PartialDateTime::from_date_timestamp(naive_ts(t)),
            )));
    }
    if zone == Tz::UTC {
        return ICalendarEntry::new(name).with_value(ICalendarValue::PartialDateTime(Box::new(
            PartialDateTime::from_utc_timestamp(naive_ts(t)),
        )));
    }
    ICalendarEntry::new(name)
        .with_param(ICalendarParameter::tzid(zone.name().to_string()))
        .with_value(ICalendarValue::PartialDateTime(Box::new(
            PartialDateTime::from_naive_timestamp(naive_ts(t)),
        )))
}

fn text_entry(name: ICalendarProperty, text: &str) -> ICalendarEntry {
    ICalendarEntry::new(name).with_value(ICalendarValue::Text(text.to_string()))
}

fn mailto(addr: &str) -> ICalendarValue {
    ICalendarValue::Uri(Uri::Location(["mailto:", addr].concat()))
}

fn address_of(e: &ICalendarEntry) -> &str {
    e.calendar_address().map(str::trim).unwrap_or("")
}

fn partstat_of(e: &ICalendarEntry) -> String {
    match e.parameter(&ICalendarParameterName::Partstat) {
        Some(ICalendarParameterValue::Partstat(p)) => p.as_str().to_string(),
        Some(other) => other.as_text().unwrap_or("NEEDS-ACTION").to_uppercase(),
        None => "NEEDS-ACTION".to_string(),
    }
}

/// The properties the form owns on the master (replaced on every save).
fn owned(p: &ICalendarProperty, repeat: Repeat) -> bool {
    matches!(
        p,
        ICalendarProperty::Summary
            | ICalendarProperty::Dtstart
            | ICalendarProperty::Dtend
            | ICalendarProperty::Duration
            | ICalendarProperty::Location
            | ICalendarProperty::Description
            | ICalendarProperty::Dtstamp
            | ICalendarProperty::Sequence
            | ICalendarProperty::LastModified
    ) || (*p == ICalendarProperty::Rrule && repeat != Repeat::Keep)
}

/// The master VEVENT's index: the top-level VEVENT without RECURRENCE-ID (else the first).
fn master_index(cal: &ICalendar) -> Option<usize> {
    let root = cal.components.first()?;
    let events: Vec<u32> = root
        .component_ids
        .iter()
        .copied()
        .filter(|id| {
            cal.components
                .get(*id as usize)
                .is_some_and(|c| c.component_type == ICalendarComponentType::VEvent)
        })
        .collect();
    events
        .iter()
        .copied()
        .find(|id| !cal.components[*id as usize].has_property(&ICalendarProperty::RecurrenceId))
        .or_else(|| events.first().copied())
        .map(|id| id as usize)
}

/// The master's entries for `f` (after the ones it keeps): the owned properties anew.
fn fill_master(
    c: &mut ICalendarComponent,
    f: &EventFields,
    span: &Span,
    zone: Tz,
    me: &str,
    now: i64,
    sequence: i64,
) {
    let repeat = f.repeat;
    let old_attendees: Vec<ICalendarEntry> = c
        .entries
        .iter()
        .filter(|e| e.name == ICalendarProperty::Attendee)
        .cloned()
        .collect();
    c.entries
        .retain(|e| !owned(&e.name, repeat) && e.name != ICalendarProperty::Attendee);
    c.add_dtstamp(PartialDateTime::from_utc_timestamp(now));
    c.add_sequence(sequence);
    c.entries
        .push(text_entry(ICalendarProperty::Summary, f.title.trim()));
    c.entries.push(date_entry(
        ICalendarProperty::Dtstart,
        span.start,
        f.all_day,
        zone,
    ));
    c.entries.push(date_entry(
        ICalendarProperty::Dtend,
        span.end,
        f.all_day,
        zone,
    ));
    if !f.location.trim().is_empty() {
        c.entries
            .push(text_entry(ICalendarProperty::Location, f.location.trim()));
    }
    let description = f.description.replace("\r\n", "\n");
    if !description.trim().is_empty() {
        c.entries.push(text_entry(
            ICalendarProperty::Description,
            description.trim_end(),
        ));
    }
    if let Some(freq) = repeat.freq() {
        let rule = ICalendarRecurrenceRule {
            freq,
            ..ICalendarRecurrenceRule::default()
        };
        c.entries.push(
            ICalendarEntry::new(ICalendarProperty::Rrule)
                .with_value(ICalendarValue::RecurrenceRule(Box::new(rule))),
        );
    }
    if !f.attendees.is_empty() && !c.has_property(&ICalendarProperty::Organizer) {
        c.entries
            .push(ICalendarEntry::new(ICalendarProperty::Organizer).with_value(mailto(me)));
    }
    for addr in &f.attendees {
        match old_attendees
            .iter()
            .find(|e| address_of(e).eq_ignore_ascii_case(addr))
        {
            Some(kept) => c.entries.push(kept.clone()),
            None => c.entries.push(
                ICalendarEntry::new(ICalendarProperty::Attendee)
                    .with_param(ICalendarParameter::partstat(
                        ICalendarParticipationStatus::NeedsAction,
                    ))
                    .with_param(ICalendarParameter::rsvp(true))
                    .with_value(mailto(addr)),
            ),
        }
    }
}

/// A new event object of `f` with `uid`, its times in `zone`, written by calcard.
pub fn new_event(
    f: &EventFields,
    uid: &str,
    zone: Tz,
    me: &str,
    now: i64,
) -> Result<String, MailError> {
    f.check()?;
    let span = f.span(zone)?;
    let mut root = ICalendarComponent::new(ICalendarComponentType::VCalendar);
    root.add_property(
        ICalendarProperty::Version,
        ICalendarValue::Text("2.0".into()),
    );
    root.add_property(
        ICalendarProperty::Prodid,
        ICalendarValue::Text("-//Ferrymail//Webmail//EN".into()),
    );
    root.component_ids.push(1);
    let mut ev = ICalendarComponent::new(ICalendarComponentType::VEvent);
    ev.add_uid(uid);
    fill_master(&mut ev, f, &span, zone, me, now, 0);
    let cal = ICalendar {
        components: vec![root, ev],
    };
    Ok(cal.to_string())
}

/// `data` (a stored event) with `f` applied to its master (module notes).
pub fn edit_event(
    data: &str,
    f: &EventFields,
    zone: Tz,
    me: &str,
    now: i64,
) -> Result<String, MailError> {
    f.check()?;
    let span = f.span(zone)?;
    let mut cal = parse_calendar(data).map_err(|e| MailError::Invalid(e.to_string()))?;
    let i = master_index(&cal).ok_or_else(|| MailError::Invalid("not an event".into()))?;
    let master = &mut cal.components[i];
    let sequence = master
        .property(&ICalendarProperty::Sequence)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_integer())
        .unwrap_or(0);
    fill_master(master, f, &span, zone, me, now, sequence + 1);
    Ok(cal.to_string())
}

/// `data` with the PARTSTAT of `me`'s ATTENDEE entries set to `status`; `None` when `me`
/// is no attendee.
pub fn set_partstat(
    data: &str,
    me: &str,
    status: ICalendarParticipationStatus,
    now: i64,
) -> Result<Option<String>, MailError> {
    let mut cal = parse_calendar(data).map_err(|e| MailError::Invalid(e.to_string()))?;
    let mut found = false;
    for c in cal.components.iter_mut() {
        if c.component_type != ICalendarComponentType::VEvent {
            continue;
        }
        let mut touched = false;
        for e in c.entries.iter_mut() {
            if e.name == ICalendarProperty::Attendee && address_of(e).eq_ignore_ascii_case(me) {
                e.params.retain(|p| {
                    p.name != ICalendarParameterName::Partstat
                        && p.name != ICalendarParameterName::Rsvp
                });
                e.params.push(ICalendarParameter::partstat(status.clone()));
                touched = true;
            }
        }
        if touched {
            found = true;
            c.entries.retain(|e| e.name != ICalendarProperty::Dtstamp);
            c.add_dtstamp(PartialDateTime::from_utc_timestamp(now));
        }
    }
    Ok(found.then(|| cal.to_string()))
}

/// The PARTSTAT of a button's `action` value.
pub fn partstat_of_action(action: &str) -> Option<ICalendarParticipationStatus> {
    match action {
        "accept" => Some(ICalendarParticipationStatus::Accepted),
        "tentative" => Some(ICalendarParticipationStatus::Tentative),
        "decline" => Some(ICalendarParticipationStatus::Declined),
        _ => None,
    }
}

/// The local date-time in `zone` of a DATE or DATE-TIME entry, and whether it is a date.
fn local_of(cal: &ICalendar, e: &ICalendarEntry, zone: Tz) -> Option<(NaiveDateTime, bool)> {
    let dt = e.values.first()?.as_partial_date_time()?;
    if !dt.has_time() {
        let d = NaiveDate::from_ymd_opt(
            i32::from(dt.year?),
            u32::from(dt.month?),
            u32::from(dt.day?),
        )?;
        return Some((d.and_time(NaiveTime::MIN), true));
    }
    let tz = e
        .tz_id()
        .and_then(|id| cal.build_tz_resolver().resolve(id))
        .unwrap_or(CalTz::Tz(zone));
    let ts = dt.to_date_time_with_tz(tz)?.timestamp();
    Some((zone.timestamp_opt(ts, 0).single()?.naive_local(), false))
}

fn simple_repeat(c: &ICalendarComponent) -> Repeat {
    let rules: Vec<&ICalendarRecurrenceRule> = c
        .properties(&ICalendarProperty::Rrule)
        .flat_map(|e| e.values.iter())
        .filter_map(|v| match v {
            ICalendarValue::RecurrenceRule(r) => Some(r.as_ref()),
            _ => None,
        })
        .collect();
    match rules.as_slice() {
        [] => Repeat::Never,
        [r] => {
            let plain = ICalendarRecurrenceRule {
                freq: r.freq,
                ..ICalendarRecurrenceRule::default()
            };
            let mut once = (*r).clone();
            if once.interval == Some(1) {
                once.interval = None;
            }
            if once != plain {
                return Repeat::Keep;
            }
            match r.freq {
                ICalendarFrequency::Daily => Repeat::Daily,
                ICalendarFrequency::Weekly => Repeat::Weekly,
                ICalendarFrequency::Monthly => Repeat::Monthly,
                ICalendarFrequency::Yearly => Repeat::Yearly,
                _ => Repeat::Keep,
            }
        }
        _ => Repeat::Keep,
    }
}

/// What the form shows of the stored event `data` for `me` in `zone`.
pub fn read_event(data: &str, me: &str, zone: Tz) -> Result<(EventFields, EventFacts), MailError> {
    let cal = parse_calendar(data).map_err(|e| MailError::Invalid(e.to_string()))?;
    let i = master_index(&cal).ok_or_else(|| MailError::Invalid("not an event".into()))?;
    let c = &cal.components[i];
    let text = |p: ICalendarProperty| {
        c.property(&p)
            .and_then(|e| e.values.first())
            .and_then(|v| v.as_text())
            .unwrap_or("")
            .to_string()
    };
    let (start, all_day) = c
        .property(&ICalendarProperty::Dtstart)
        .and_then(|e| local_of(&cal, e, zone))
        .ok_or_else(|| MailError::Invalid("the event has no start".into()))?;
    let end = match c.property(&ICalendarProperty::Dtend) {
        Some(e) => local_of(&cal, e, zone).map(|(t, _)| t),
        None => c
            .property(&ICalendarProperty::Duration)
            .and_then(|e| e.values.first())
            .and_then(|v| match v {
                ICalendarValue::Duration(d) => Some(start + Duration::seconds(d.as_seconds())),
                _ => None,
            }),
    }
    .unwrap_or(if all_day {
        start + Duration::days(1)
    } else {
        start
    });
    let shown_end = if all_day && end > start {
        end - Duration::days(1)
    } else {
        end
    };
    let organizer = c
        .property(&ICalendarProperty::Organizer)
        .map(address_of)
        .unwrap_or("")
        .to_string();
    let attendees: Vec<(String, String)> = c
        .properties(&ICalendarProperty::Attendee)
        .map(|e| (address_of(e).to_string(), partstat_of(e)))
        .filter(|(a, _)| !a.is_empty())
        .collect();
    let my_partstat = if organizer.eq_ignore_ascii_case(me) {
        None
    } else {
        attendees
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(me))
            .map(|(_, p)| p.clone())
    };
    let fields = EventFields {
        title: text(ICalendarProperty::Summary),
        all_day,
        start_date: start.format("%Y-%m-%d").to_string(),
        start_time: start.format("%H:%M").to_string(),
        end_date: shown_end.format("%Y-%m-%d").to_string(),
        end_time: shown_end.format("%H:%M").to_string(),
        location: text(ICalendarProperty::Location),
        description: text(ICalendarProperty::Description),
        repeat: simple_repeat(c),
        attendees: attendees.iter().map(|(a, _)| a.clone()).collect(),
    };
    let facts = EventFacts {
        organizer,
        attendees,
        my_partstat,
    };
    Ok((fields, facts))
}

/// The SUMMARY of component `comp_id` (an instance's), or "(no title)".
pub fn title_of(cal: &ICalendar, comp_id: u32) -> String {
    cal.components
        .get(comp_id as usize)
        .and_then(|c| c.property(&ICalendarProperty::Summary))
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "(no title)".to_string())
}

/// Whether component `comp_id` is a VEVENT with a DATE start (an all-day event).
pub fn is_all_day(cal: &ICalendar, comp_id: u32) -> bool {
    cal.components
        .get(comp_id as usize)
        .and_then(|c| c.property(&ICalendarProperty::Dtstart))
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_partial_date_time())
        .is_some_and(|dt| !dt.has_time())
}

/// Whether component `comp_id` is a VEVENT directly inside the VCALENDAR.
pub fn is_event(cal: &ICalendar, comp_id: u32) -> bool {
    top_level(cal).any(|c| std::ptr::eq(c, &cal.components[comp_id as usize]))
        && cal.components[comp_id as usize].component_type == ICalendarComponentType::VEvent
}

/// `data` (an invitation's copy) with only its master's start and end moved to the times
/// `f` names in `zone` (DURATION dropped; nothing else touched, SEQUENCE kept): the event
/// an attendee proposes in a COUNTER (`protocols::itip::counter`).
pub fn with_times(data: &str, f: &EventFields, zone: Tz) -> Result<ICalendar, MailError> {
    let span = f.span(zone)?;
    let mut cal = parse_calendar(data).map_err(|e| MailError::Invalid(e.to_string()))?;
    let i = master_index(&cal).ok_or_else(|| MailError::Invalid("not an event".into()))?;
    let c = &mut cal.components[i];
    c.entries.retain(|e| {
        !matches!(
            e.name,
            ICalendarProperty::Dtstart | ICalendarProperty::Dtend | ICalendarProperty::Duration
        )
    });
    c.entries.push(date_entry(
        ICalendarProperty::Dtstart,
        span.start,
        f.all_day,
        zone,
    ));
    c.entries.push(date_entry(
        ICalendarProperty::Dtend,
        span.end,
        f.all_day,
        zone,
    ));
    Ok(cal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::caldav::validate::{validate_calendar, ComponentKind};

    fn fields() -> EventFields {
        EventFields {
            title: "Planning, Q1".into(),
            all_day: false,
            start_date: "2027-01-04".into(),
            start_time: "09:30".into(),
            end_date: "2027-01-04".into(),
            end_time: "10:45".into(),
            location: "Room 2".into(),
            description: "line one\nline two; with, punctuation".into(),
            repeat: Repeat::Weekly,
            attendees: vec!["bob@example.org".into()],
        }
    }

    #[test]
    fn a_new_event_validates_and_reads_back_in_its_zone() {
        let zone: Tz = "Europe/Paris".parse().unwrap();
        let data = new_event(&fields(), "u-1", zone, "al@example.com", 1_800_000_000).unwrap();
        assert!(data.contains("TZID=Europe/Paris"), "{data}");
        assert!(data.contains("RRULE:FREQ=WEEKLY"), "{data}");
        let obj = validate_calendar(&data, &[ComponentKind::Event], 1 << 20).unwrap();
        assert_eq!(obj.uid, "u-1");
        let (back, facts) = read_event(&data, "al@example.com", zone).unwrap();
        assert_eq!(back, fields());
        assert_eq!(facts.organizer, "al@example.com");
        assert_eq!(
            facts.attendees,
            vec![("bob@example.org".into(), "NEEDS-ACTION".into())]
        );
        assert_eq!(facts.my_partstat, None);
        // Read in another zone, the same instant.
        let (ny, _) =
            read_event(&data, "al@example.com", "America/New_York".parse().unwrap()).unwrap();
        assert_eq!(
            (ny.start_date.as_str(), ny.start_time.as_str()),
            ("2027-01-04", "03:30")
        );
    }

    #[test]
    fn all_day_events_are_dates_with_an_exclusive_end() {
        let mut f = fields();
        f.all_day = true;
        f.end_date = "2027-01-05".into();
        f.repeat = Repeat::Never;
        f.attendees.clear();
        let data = new_event(&f, "u-2", Tz::UTC, "al@example.com", 1_800_000_000).unwrap();
        assert!(data.contains("DTSTART;VALUE=DATE:20270104"), "{data}");
        assert!(data.contains("DTEND;VALUE=DATE:20270106"), "{data}");
        assert!(!data.contains("ORGANIZER"), "{data}");
        let (back, _) = read_event(&data, "al@example.com", Tz::UTC).unwrap();
        assert!(back.all_day);
        assert_eq!(
            (back.start_date.as_str(), back.end_date.as_str()),
            ("2027-01-04", "2027-01-05")
        );
    }

    #[test]
    fn an_edit_keeps_what_the_form_does_not_own() {
        let other = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nBEGIN:VEVENT\r\n\
UID:o-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20270104T090000Z\r\nDTEND:20270104T100000Z\r\n\
SUMMARY:Old\r\nX-CUSTOM:keep me\r\nSEQUENCE:4\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE\r\n\
ATTENDEE;PARTSTAT=ACCEPTED;CN=Bob:mailto:bob@example.org\r\n\
ATTENDEE;PARTSTAT=DECLINED:mailto:carol@example.org\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:soon\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let (mut f, _) = read_event(other, "al@example.com", Tz::UTC).unwrap();
        assert_eq!(f.repeat, Repeat::Keep);
        f.title = "New".into();
        f.attendees = vec!["bob@example.org".into(), "dan@example.org".into()];
        let data = edit_event(other, &f, Tz::UTC, "al@example.com", 1_800_000_000).unwrap();
        for kept in [
            "X-CUSTOM:keep me",
            "BYDAY=MO,WE",
            "BEGIN:VALARM",
            "TRIGGER:-PT15M",
            "SEQUENCE:5",
        ] {
            assert!(data.contains(kept), "{kept} lost: {data}");
        }
        assert!(
            data.contains("SUMMARY:New") && !data.contains("SUMMARY:Old"),
            "{data}"
        );
        assert!(!data.contains("carol@"), "{data}");
        let (_, facts) = read_event(&data, "al@example.com", Tz::UTC).unwrap();
        assert_eq!(
            facts.attendees,
            vec![
                ("bob@example.org".into(), "ACCEPTED".into()),
                ("dan@example.org".into(), "NEEDS-ACTION".into())
            ]
        );
        validate_calendar(&data, &[ComponentKind::Event], 1 << 20).unwrap();
    }

    #[test]
    fn bad_forms_are_refused_with_a_reason() {
        let mut f = fields();
        f.end_time = "08:00".into();
        assert!(new_event(&f, "u", Tz::UTC, "a@b.c", 0).is_err());
        let mut f = fields();
        f.title = "  ".into();
        assert!(new_event(&f, "u", Tz::UTC, "a@b.c", 0).is_err());
        let mut f = fields();
        f.start_date = "2027-13-01".into();
        assert!(new_event(&f, "u", Tz::UTC, "a@b.c", 0).is_err());
        // 02:30 on the spring-forward night does not exist in Paris.
        let mut f = fields();
        f.start_date = "2027-03-28".into();
        f.end_date = "2027-03-28".into();
        f.start_time = "02:30".into();
        f.end_time = "04:00".into();
        assert!(new_event(&f, "u", "Europe/Paris".parse().unwrap(), "a@b.c", 0).is_err());
        assert!(parse_attendees("bob@example.org, not an address").is_err());
        assert_eq!(
            parse_attendees("Bob <bob@example.org>; BOB@example.org\ncarol@example.org").unwrap(),
            vec![
                "bob@example.org".to_string(),
                "carol@example.org".to_string()
            ]
        );
    }
}
