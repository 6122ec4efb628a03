//! Instances of a calendar object in time, and whether one overlaps a time range
//! (RFC 4791 §9.9). Recurrences (RRULE, RDATE, EXDATE, overridden instances) are expanded by
//! calcard; TZID parameters resolve through the object's own VTIMEZONEs or IANA names, and
//! floating times and dates through the zone the query gives (its calendar's time zone).
//!
//! # Which overlap rule an instance takes (§9.9's tables)
//!
//! - A span with an end after its start (DTEND, DURATION > 0, a DATE start's one day, a
//!   VTODO's DTSTART+DUE): `start < range end AND end > range start`.
//! - An instant (a DATE-TIME DTSTART with no DTEND/DURATION, DURATION of 0):
//!   `range start <= DTSTART < range end`.
//! - A VTODO with DUE and no DTSTART: `range start < DUE <= range end`.
//! - A VTODO with no date at all matches every range.
//!
//! Deviation: a VTODO dated only by COMPLETED and/or CREATED is taken as the span calcard
//! gives it (CREATED to COMPLETED), slightly narrower than §9.9's disjunctions.

use calcard::common::timezone::Tz;
use calcard::common::PartialDateTime;
use calcard::icalendar::{ICalendar, ICalendarComponentType, ICalendarProperty, ICalendarValue};

use super::error::CalendarPrecondition;

/// The largest distance of a local time from UTC (UTC+14, Line Islands): the store's index
/// is widened by it so that floating times and dates match in whatever zone a query uses.
pub const WIDEST_OFFSET: i64 = 14 * 3600;

/// At most this many instances are expanded per object. An unbounded rule past it is
/// indexed as unbounded and matched against the instances expanded so far.
pub const EXPAND_LIMIT: usize = 20_000;

/// How an instance meets a range (the module documentation's rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Span,
    Instant,
    Due,
}

/// One instance, in Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instance {
    /// The component (index into `ICalendar::components`) it is an instance of.
    pub comp_id: u32,
    pub start: i64,
    pub end: i64,
    pub shape: Shape,
}

impl Instance {
    /// Whether the instance overlaps `[start, end)` (either side open: `None`).
    pub fn overlaps(&self, start: Option<i64>, end: Option<i64>) -> bool {
        let s = start.unwrap_or(i64::MIN);
        let e = end.unwrap_or(i64::MAX);
        match self.shape {
            Shape::Span => s < self.end && e > self.start,
            Shape::Instant => s <= self.start && e > self.start,
            Shape::Due => s < self.start && e >= self.start,
        }
    }
}

/// Every instance of `calendar`'s components, floating times taken in `zone`. The bool is
/// true when the expansion stopped at [`EXPAND_LIMIT`].
pub fn instances(
    calendar: &ICalendar,
    zone: Tz,
) -> Result<(Vec<Instance>, bool), CalendarPrecondition> {
    let local = for_expansion(calendar);
    let expanded = local
        .as_ref()
        .unwrap_or(calendar)
        .expand_dates(zone, EXPAND_LIMIT);
    if let Some(err) = expanded.errors.first() {
        return Err(CalendarPrecondition::ValidCalendarData(format!(
            "{} in component {}",
            err.error, err.comp_id
        )));
    }
    let truncated = expanded.events.len() >= EXPAND_LIMIT;
    let mut out = Vec::with_capacity(expanded.events.len());
    for ev in &expanded.events {
        let (start, end) = ev.timestamps();
        let shape = shape_of(calendar, ev.comp_id);
        let end = if shape == Shape::Span { end } else { start };
        out.push(Instance {
            comp_id: ev.comp_id,
            start,
            end,
            shape,
        });
    }
    Ok((out, truncated))
}

/// How far past a question's latest end a capped rule still runs: instances starting
/// later cannot overlap a range ending there, whatever zone floating times take.
const CAP_MARGIN: i64 = 2 * WIDEST_OFFSET + 86_400;

/// [`instances`] for a question about times before `until` only (a query's latest end;
/// `None`: no bound): a rule with neither COUNT nor UNTIL stops just after it, so an
/// endless daily event costs the days the question needs, not [`EXPAND_LIMIT`] instances.
/// Instances starting after `until` may be left out; none of them overlaps a range that
/// ends by `until` (an alarm triggers before its instance: questions about alarms pass
/// `None`). Should the capped copy not expand, the object is expanded whole.
pub fn instances_until(
    calendar: &ICalendar,
    zone: Tz,
    until: Option<i64>,
) -> Result<(Vec<Instance>, bool), CalendarPrecondition> {
    let capped = until.and_then(|u| capped_rules(calendar, u.saturating_add(CAP_MARGIN)));
    match capped {
        Some(c) => instances(&c, zone).or_else(|_| instances(calendar, zone)),
        None => instances(calendar, zone),
    }
}

/// A copy of `calendar` whose unbounded rules end at `cap` (Unix seconds), written as the
/// rules' own UNTIL would be (a date for a DATE start, else the start zone's local time, as
/// calcard compares it: see [`for_expansion`]); `None` when no rule is unbounded.
fn capped_rules(calendar: &ICalendar, cap: i64) -> Option<ICalendar> {
    let resolver = calendar.build_tz_resolver();
    let utc = chrono::DateTime::from_timestamp(cap, 0)?;
    let mut fixed: Option<ICalendar> = None;
    for (ci, c) in calendar.components.iter().enumerate() {
        if !c.component_type.has_time_ranges() {
            continue;
        }
        let start = c.property(&ICalendarProperty::Dtstart);
        let date_only = start
            .and_then(|e| e.values.first())
            .and_then(|v| v.as_partial_date_time())
            .is_some_and(|d| !d.has_time());
        let local = match start
            .and_then(|e| e.tz_id())
            .and_then(|id| resolver.resolve(id))
        {
            Some(tz) => utc.with_timezone(&tz).naive_local().and_utc().timestamp(),
            None => cap,
        };
        // A rule starting after the cap: its first instance is all it needs (an UNTIL
        // before DTSTART is no rule calcard expands).
        let starts_later = start
            .and_then(|e| e.values.first())
            .and_then(|v| v.as_partial_date_time())
            .and_then(naive_seconds)
            .is_some_and(|s| s > local);
        for (ei, e) in c.entries.iter().enumerate() {
            if e.name != ICalendarProperty::Rrule {
                continue;
            }
            for (vi, v) in e.values.iter().enumerate() {
                let ICalendarValue::RecurrenceRule(rule) = v else {
                    continue;
                };
                if rule.count.is_some() || rule.until.is_some() {
                    continue;
                }
                let mut rule = rule.clone();
                if starts_later {
                    rule.count = Some(1);
                } else {
                    let mut until = PartialDateTime::from_naive_timestamp(local);
                    if date_only {
                        until.hour = None;
                        until.minute = None;
                        until.second = None;
                    }
                    rule.until = Some(until);
                }
                let copy = fixed.get_or_insert_with(|| calendar.clone());
                copy.components[ci].entries[ei].values[vi] = ICalendarValue::RecurrenceRule(rule);
            }
        }
    }
    fixed
}

/// A date or date-time's fields as seconds, read as if in UTC (its wall clock).
fn naive_seconds(d: &PartialDateTime) -> Option<i64> {
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::from(d.year?),
        u32::from(d.month?),
        u32::from(d.day?),
    )?;
    let time = date.and_hms_opt(
        u32::from(d.hour.unwrap_or(0)),
        u32::from(d.minute.unwrap_or(0)),
        u32::from(d.second.unwrap_or(0)).min(59),
    )?;
    Some(time.and_utc().timestamp())
}

/// The span the store indexes: (earliest start, latest end), widened by [`WIDEST_OFFSET`].
/// `(None, None)` for an undated VTODO (it matches every range); a `None` end for an
/// unbounded recurrence.
pub fn index_span(
    calendar: &ICalendar,
) -> Result<(Option<i64>, Option<i64>), CalendarPrecondition> {
    let (list, truncated) = instances(calendar, Tz::UTC)?;
    let first = list.iter().map(|i| i.start).min();
    let last = list.iter().map(|i| i.end.max(i.start)).max();
    let Some(first) = first else {
        return Ok((None, None));
    };
    let unbounded = truncated || has_unbounded_rule(calendar);
    let last = if unbounded {
        None
    } else {
        last.map(|l| l.saturating_add(WIDEST_OFFSET))
    };
    Ok((Some(first.saturating_sub(WIDEST_OFFSET)), last))
}

/// Whether the component matches every time range because it has no date at all (a VTODO
/// without DTSTART, DUE, COMPLETED or CREATED).
pub fn undated_todo(calendar: &ICalendar, comp_id: u32) -> bool {
    let Some(c) = calendar.components.get(comp_id as usize) else {
        return false;
    };
    c.component_type == ICalendarComponentType::VTodo
        && ![
            ICalendarProperty::Dtstart,
            ICalendarProperty::Due,
            ICalendarProperty::Completed,
            ICalendarProperty::Created,
        ]
        .iter()
        .any(|p| c.has_property(p))
}

/// A copy of `calendar` that calcard 0.3 expands right, or `None` when it needs no change:
///
/// - RRULE UNTILs in UTC are written in their DTSTART's zone. RFC 5545 §3.3.10 has UNTIL in
///   UTC whenever DTSTART has a TZID, but calcard compares UNTIL with the local start times
///   as if both were local, which drops the last instance east of Greenwich (an Outlook
///   rule ending on its last start) and adds one west of it.
/// - SEQUENCE goes when there are overrides: calcard pairs an override (RECURRENCE-ID)
///   with its master only when their SEQUENCEs are equal, and clients bump an override's
///   SEQUENCE past the master's (Thunderbird: master 0, moved instance 1), which gave both
///   the moved instance and the original occurrence. SEQUENCE says nothing of when an
///   instance is.
fn for_expansion(calendar: &ICalendar) -> Option<ICalendar> {
    let resolver = calendar.build_tz_resolver();
    let mut fixed: Option<ICalendar> = None;
    for (ci, c) in calendar.components.iter().enumerate() {
        if !c.component_type.has_time_ranges() {
            continue;
        }
        let Some(tz) = c
            .property(&ICalendarProperty::Dtstart)
            .and_then(|e| e.tz_id())
            .and_then(|id| resolver.resolve(id))
        else {
            continue;
        };
        for (ei, e) in c.entries.iter().enumerate() {
            if e.name != ICalendarProperty::Rrule {
                continue;
            }
            for (vi, v) in e.values.iter().enumerate() {
                let ICalendarValue::RecurrenceRule(rule) = v else {
                    continue;
                };
                let Some(until) = rule.until.as_ref().filter(|u| u.has_zone()) else {
                    continue;
                };
                let Some(instant) = until.to_date_time_with_tz(Tz::UTC) else {
                    continue;
                };
                let local = instant
                    .with_timezone(&tz)
                    .naive_local()
                    .and_utc()
                    .timestamp();
                let mut rule = rule.clone();
                rule.until = Some(PartialDateTime::from_naive_timestamp(local));
                let copy = fixed.get_or_insert_with(|| calendar.clone());
                copy.components[ci].entries[ei].values[vi] = ICalendarValue::RecurrenceRule(rule);
            }
        }
    }
    // After the UNTILs: their loop indexes the original entries.
    let overrides = calendar
        .components
        .iter()
        .any(|c| c.has_property(&ICalendarProperty::RecurrenceId));
    if overrides {
        for (ci, c) in calendar.components.iter().enumerate() {
            if c.has_property(&ICalendarProperty::Sequence) {
                let copy = fixed.get_or_insert_with(|| calendar.clone());
                copy.components[ci]
                    .entries
                    .retain(|e| e.name != ICalendarProperty::Sequence);
            }
        }
    }
    fixed
}

fn has_unbounded_rule(calendar: &ICalendar) -> bool {
    // Only the components that have instances: a VTIMEZONE's rules never end.
    calendar
        .components
        .iter()
        .filter(|c| c.component_type.has_time_ranges())
        .any(|c| {
            c.properties(&ICalendarProperty::Rrule).any(|e| {
                e.values.iter().any(|v| match v {
                    ICalendarValue::RecurrenceRule(r) => r.count.is_none() && r.until.is_none(),
                    _ => false,
                })
            })
        })
}

fn shape_of(calendar: &ICalendar, comp_id: u32) -> Shape {
    let Some(c) = calendar.components.get(comp_id as usize) else {
        return Shape::Span;
    };
    let has = |p: ICalendarProperty| c.has_property(&p);
    if c.component_type == ICalendarComponentType::VTodo
        && !has(ICalendarProperty::Dtstart)
        && has(ICalendarProperty::Due)
    {
        return Shape::Due;
    }
    if has(ICalendarProperty::Dtend) || has(ICalendarProperty::Due) {
        return Shape::Span;
    }
    if let Some(d) = c
        .property(&ICalendarProperty::Duration)
        .and_then(|e| e.values.first())
    {
        return match d {
            ICalendarValue::Duration(d) if d.as_seconds() != 0 => Shape::Span,
            _ => Shape::Instant,
        };
    }
    let timed_start = c
        .property(&ICalendarProperty::Dtstart)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_partial_date_time())
        .is_some_and(|dt| dt.has_time());
    // A VJOURNAL's DATE-TIME start, like a VEVENT's, is an instant; a DATE start spans its day.
    if timed_start {
        Shape::Instant
    } else {
        Shape::Span
    }
}
