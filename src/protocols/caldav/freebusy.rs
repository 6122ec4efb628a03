//! free-busy-query (RFC 4791 §7.10): the busy time of a calendar's objects in a range, as
//! the periods of a VFREEBUSY (RFC 5545 §3.6.4) by FBTYPE.
//!
//! - A VEVENT instance counts unless TRANSP:TRANSPARENT or STATUS:CANCELLED, or of zero
//!   length; STATUS:TENTATIVE makes it BUSY-TENTATIVE, anything else BUSY.
//! - A stored VFREEBUSY's FREEBUSY periods count with their FBTYPE (default BUSY; FREE not).
//! - Periods are clipped to the range, and overlapping or touching periods of one type are
//!   merged.

use calcard::common::timezone::Tz;
use calcard::icalendar::{
    ICalendar, ICalendarComponentType, ICalendarFreeBusyType, ICalendarParameterValue,
    ICalendarPeriod, ICalendarProperty, ICalendarStatus, ICalendarTransparency, ICalendarValue,
};

use super::error::CalendarPrecondition;
use super::filter::TimeRange;
use super::timerange;

/// FBTYPE of a busy period (FREE is never reported).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BusyKind {
    Busy,
    BusyUnavailable,
    BusyTentative,
}

impl BusyKind {
    /// The FBTYPE parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            BusyKind::Busy => "BUSY",
            BusyKind::BusyUnavailable => "BUSY-UNAVAILABLE",
            BusyKind::BusyTentative => "BUSY-TENTATIVE",
        }
    }
}

/// A busy period, Unix seconds, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Busy {
    pub kind: BusyKind,
    pub start: i64,
    pub end: i64,
}

/// The busy periods `calendar` contributes to `[range.start, range.end)` (both required:
/// §7.10 requires a time-range with a start and an end), floating times in `zone`; not
/// merged (see [`merge`]).
pub fn busy_periods(
    calendar: &ICalendar,
    zone: Tz,
    start: i64,
    end: i64,
) -> Result<Vec<Busy>, CalendarPrecondition> {
    let mut out = Vec::new();
    let (list, _) = timerange::instances_until(calendar, zone, Some(end))?;
    for inst in list {
        let Some(comp) = calendar.components.get(inst.comp_id as usize) else {
            continue;
        };
        if comp.component_type != ICalendarComponentType::VEvent
            || inst.end <= inst.start
            || comp.transparency() == Some(&ICalendarTransparency::Transparent)
        {
            continue;
        }
        let kind = match comp.status() {
            Some(ICalendarStatus::Cancelled) => continue,
            Some(ICalendarStatus::Tentative) => BusyKind::BusyTentative,
            _ => BusyKind::Busy,
        };
        push_clipped(&mut out, kind, inst.start, inst.end, start, end);
    }
    for comp in &calendar.components {
        if comp.component_type != ICalendarComponentType::VFreebusy {
            continue;
        }
        for e in comp.properties(&ICalendarProperty::Freebusy) {
            let kind = match e.params.iter().find_map(|p| match &p.value {
                ICalendarParameterValue::Fbtype(t) => Some(t),
                _ => None,
            }) {
                Some(ICalendarFreeBusyType::Free) => continue,
                Some(ICalendarFreeBusyType::BusyTentative) => BusyKind::BusyTentative,
                Some(ICalendarFreeBusyType::BusyUnavailable) => BusyKind::BusyUnavailable,
                _ => BusyKind::Busy,
            };
            for v in &e.values {
                if let ICalendarValue::Period(p) = v {
                    if let Some((s, f)) = period_secs(p, zone) {
                        push_clipped(&mut out, kind, s, f, start, end);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Sorts and merges overlapping or touching periods of one kind.
pub fn merge(mut periods: Vec<Busy>) -> Vec<Busy> {
    periods.sort();
    let mut out: Vec<Busy> = Vec::with_capacity(periods.len());
    for p in periods {
        match out.last_mut() {
            Some(last) if last.kind == p.kind && p.start <= last.end => {
                last.end = last.end.max(p.end);
            }
            _ => out.push(p),
        }
    }
    out
}

/// The range as a [`TimeRange`] check: both ends are required by §7.10.
pub fn bounds(range: &TimeRange) -> Option<(i64, i64)> {
    match (range.start, range.end) {
        (Some(s), Some(e)) if s < e => Some((s, e)),
        _ => None,
    }
}

fn push_clipped(out: &mut Vec<Busy>, kind: BusyKind, s: i64, e: i64, start: i64, end: i64) {
    let (s, e) = (s.max(start), e.min(end));
    if s < e {
        out.push(Busy {
            kind,
            start: s,
            end: e,
        });
    }
}

fn period_secs(p: &ICalendarPeriod, zone: Tz) -> Option<(i64, i64)> {
    match p {
        ICalendarPeriod::Range { start, end } => Some((
            start.to_date_time_with_tz(zone)?.timestamp(),
            end.to_date_time_with_tz(zone)?.timestamp(),
        )),
        ICalendarPeriod::Duration { start, duration } => {
            let s = start.to_date_time_with_tz(zone)?.timestamp();
            Some((s, s.saturating_add(duration.as_seconds())))
        }
    }
}
