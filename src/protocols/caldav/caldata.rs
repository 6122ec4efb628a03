//! CALDAV:calendar-data output (RFC 4791 §9.6): the part of a stored object a REPORT
//! returns. The object is parsed by calcard, cut down here as a calcard tree, and written
//! back by calcard; nothing here writes iCalendar text by hand.
//!
//! Steps, in this order, on the parsed object:
//!
//! 1. `expand` (§9.6.5): every instance overlapping the range becomes a component of its
//!    own, with DTSTART, DTEND/DUE and RECURRENCE-ID in UTC and no RRULE, RDATE, EXDATE or
//!    VTIMEZONE. An overridden instance is its own component, converted likewise. A DATE
//!    (all-day) start stays a DATE (a day has no UTC form).
//!    `limit-recurrence-set` (§9.6.6): the master stays whole, overridden instances are
//!    kept only when they overlap the range.
//! 2. `limit-freebusy-set` (§9.6.7): FREEBUSY periods of VFREEBUSY components outside the
//!    range are dropped.
//! 3. The `comp`/`prop` selection (§9.6.1-§9.6.4), `novalue` keeping the property with an
//!    empty value.
//!
//! Deviation: an instance moved by a `RANGE=THISANDFUTURE` override keeps the RECURRENCE-ID
//! calcard's expansion gives it (the moved start), not the original one.

use calcard::common::timezone::Tz;
use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarParameter,
    ICalendarParameterName, ICalendarParameterValue, ICalendarPeriod, ICalendarProperty,
    ICalendarValue, ICalendarValueType,
};
use chrono::TimeZone;

use super::error::CalendarPrecondition;
use super::filter::TimeRange;
use super::report::{CalendarData, CompSelect, Select};
use super::timerange;

/// The `calendar-data` `content-type`/`version` this server writes: text/calendar 2.0.
/// Anything else fails `CALDAV:supported-calendar-data` (§9.6).
pub fn supported(sel: &CalendarData) -> bool {
    let ct_ok = sel.content_type.as_deref().is_none_or(|c| {
        c.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/calendar"))
    });
    let version_ok = sel.version.as_deref().is_none_or(|v| v.trim() == "2.0");
    ct_ok && version_ok
}

/// The calendar-data of `calendar` under `sel`, floating times in `zone`, as text.
pub fn shape(
    calendar: &ICalendar,
    sel: &CalendarData,
    zone: Tz,
) -> Result<String, CalendarPrecondition> {
    let mut cal = if let Some(range) = &sel.expand {
        expand(calendar, range, zone)?
    } else if let Some(range) = &sel.limit_recurrence_set {
        limit_recurrence_set(calendar, range, zone)?
    } else {
        calendar.clone()
    };
    if let Some(range) = &sel.limit_freebusy_set {
        limit_freebusy(&mut cal, range, zone);
    }
    if let Some(comp) = &sel.comp {
        cal = select(&cal, comp);
    }
    Ok(cal.to_string())
}

/// §9.6.5: the instances of `calendar` overlapping `range`, one component each, in UTC.
pub fn expand(
    calendar: &ICalendar,
    range: &TimeRange,
    zone: Tz,
) -> Result<ICalendar, CalendarPrecondition> {
    let (instances, _) = timerange::instances_until(calendar, zone, range.end)?;
    let mut out = ICalendar {
        components: vec![ICalendarComponent {
            component_type: ICalendarComponentType::VCalendar,
            entries: calendar
                .components
                .first()
                .map(|r| r.entries.clone())
                .unwrap_or_default(),
            component_ids: Vec::new(),
        }],
    };
    let mut picked: Vec<_> = instances
        .iter()
        .filter(|i| i.overlaps(range.start, range.end))
        .collect();
    picked.sort_by_key(|i| (i.start, i.comp_id));
    for inst in picked {
        let Some(comp) = calendar.components.get(inst.comp_id as usize) else {
            continue;
        };
        let recurring = is_recurring(comp) || comp.has_property(&ICalendarProperty::RecurrenceId);
        let all_day = is_date(comp.property(&ICalendarProperty::Dtstart));
        let start = instant(inst.start, all_day, zone);
        let end_value = instant(inst.end, all_day, zone);
        let mut entries = Vec::with_capacity(comp.entries.len() + 1);
        for e in &comp.entries {
            match &e.name {
                ICalendarProperty::Rrule
                | ICalendarProperty::Rdate
                | ICalendarProperty::Exdate
                | ICalendarProperty::Exrule
                | ICalendarProperty::RecurrenceId => {}
                ICalendarProperty::Dtstart => entries.push(date_entry(e, &start, all_day)),
                ICalendarProperty::Dtend | ICalendarProperty::Due => {
                    entries.push(date_entry(e, &end_value, all_day))
                }
                _ => entries.push(to_utc(e, zone, calendar)),
            }
        }
        if recurring {
            // The original start of this instance: an override's own RECURRENCE-ID, or
            // the generated start.
            let rid = match comp.property(&ICalendarProperty::RecurrenceId) {
                Some(e) => {
                    let tz = entry_zone(e, zone, calendar);
                    let ts = e
                        .values
                        .first()
                        .and_then(|v| v.as_partial_date_time())
                        .and_then(|d| d.to_date_time_with_tz(tz))
                        .map(|d| d.timestamp())
                        .unwrap_or(inst.start);
                    instant(ts, all_day, zone)
                }
                None => start.clone(),
            };
            entries.push(ICalendarEntry {
                name: ICalendarProperty::RecurrenceId,
                params: date_params(all_day),
                values: vec![ICalendarValue::PartialDateTime(Box::new(rid))],
            });
        }
        let id = u32::try_from(out.components.len()).unwrap_or(u32::MAX);
        out.components.push(ICalendarComponent {
            component_type: comp.component_type.clone(),
            entries,
            component_ids: Vec::new(),
        });
        out.components[0].component_ids.push(id);
        // Alarms and other subcomponents come along unchanged.
        let children = comp.component_ids.clone();
        let mut kids = Vec::new();
        for child in children {
            kids.push(copy_tree(calendar, child, &mut out));
        }
        out.components[id as usize].component_ids = kids;
    }
    Ok(out)
}

/// §9.6.6: the master whole, overridden instances only when they overlap `range`.
pub fn limit_recurrence_set(
    calendar: &ICalendar,
    range: &TimeRange,
    zone: Tz,
) -> Result<ICalendar, CalendarPrecondition> {
    let (instances, _) = timerange::instances_until(calendar, zone, range.end)?;
    let drop: Vec<u32> = calendar
        .components
        .iter()
        .enumerate()
        .filter(|(_, c)| c.has_property(&ICalendarProperty::RecurrenceId))
        .map(|(id, _)| u32::try_from(id).unwrap_or(u32::MAX))
        .filter(|id| {
            !instances
                .iter()
                .any(|i| i.comp_id == *id && i.overlaps(range.start, range.end))
        })
        .collect();
    let mut out = calendar.clone();
    out.remove_component_ids(&drop);
    Ok(out)
}

/// §9.6.7: FREEBUSY periods outside `range` dropped (a property left without one goes).
pub fn limit_freebusy(cal: &mut ICalendar, range: &TimeRange, zone: Tz) {
    let start = range.start.unwrap_or(i64::MIN);
    let end = range.end.unwrap_or(i64::MAX);
    for comp in &mut cal.components {
        if comp.component_type != ICalendarComponentType::VFreebusy {
            continue;
        }
        comp.entries.retain_mut(|e| {
            if e.name != ICalendarProperty::Freebusy {
                return true;
            }
            e.values.retain(|v| match v {
                ICalendarValue::Period(p) => {
                    period_secs(p, zone).is_some_and(|(s, f)| s < end && f > start)
                }
                _ => true,
            });
            !e.values.is_empty()
        });
    }
}

/// The component selection of §9.6.1 applied to `cal` (rooted at VCALENDAR).
pub fn select(cal: &ICalendar, sel: &CompSelect) -> ICalendar {
    let mut out = ICalendar {
        components: Vec::new(),
    };
    if cal
        .components
        .first()
        .is_some_and(|r| r.component_type.as_str().eq_ignore_ascii_case(&sel.name))
    {
        select_into(cal, 0, sel, &mut out);
    } else {
        out.components
            .push(ICalendarComponent::new(ICalendarComponentType::VCalendar));
    }
    out
}

fn select_into(cal: &ICalendar, id: u32, sel: &CompSelect, out: &mut ICalendar) -> u32 {
    let src = &cal.components[id as usize];
    let entries = match &sel.props {
        Select::All => src.entries.clone(),
        Select::Only(list) => src
            .entries
            .iter()
            .filter_map(|e| {
                let p = list
                    .iter()
                    .find(|p| p.name.eq_ignore_ascii_case(e.name.as_str()))?;
                let mut e = e.clone();
                if p.novalue {
                    e.values.clear();
                }
                Some(e)
            })
            .collect(),
    };
    let new_id = u32::try_from(out.components.len()).unwrap_or(u32::MAX);
    out.components.push(ICalendarComponent {
        component_type: src.component_type.clone(),
        entries,
        component_ids: Vec::new(),
    });
    let mut kids = Vec::new();
    for child in &src.component_ids {
        let Some(c) = cal.components.get(*child as usize) else {
            continue;
        };
        match &sel.comps {
            Select::All => kids.push(copy_tree(cal, *child, out)),
            Select::Only(list) => {
                if let Some(s) = list
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(c.component_type.as_str()))
                {
                    kids.push(select_into(cal, *child, s, out));
                }
            }
        }
    }
    out.components[new_id as usize].component_ids = kids;
    new_id
}

/// Copies component `id` of `src` and its subtree to the end of `out`; its new id.
fn copy_tree(src: &ICalendar, id: u32, out: &mut ICalendar) -> u32 {
    let c = &src.components[id as usize];
    let new_id = u32::try_from(out.components.len()).unwrap_or(u32::MAX);
    out.components.push(ICalendarComponent {
        component_type: c.component_type.clone(),
        entries: c.entries.clone(),
        component_ids: Vec::new(),
    });
    let kids: Vec<u32> = c
        .component_ids
        .iter()
        .map(|k| copy_tree(src, *k, out))
        .collect();
    out.components[new_id as usize].component_ids = kids;
    new_id
}

fn is_recurring(c: &ICalendarComponent) -> bool {
    c.has_property(&ICalendarProperty::Rrule) || c.has_property(&ICalendarProperty::Rdate)
}

fn is_date(e: Option<&ICalendarEntry>) -> bool {
    e.and_then(|e| e.values.first())
        .and_then(|v| v.as_partial_date_time())
        .is_some_and(|d| !d.has_time())
}

/// Unix seconds as a UTC date-time, or (all-day) as the date it is in `zone`.
fn instant(ts: i64, all_day: bool, zone: Tz) -> PartialDateTime {
    if all_day {
        let local = zone
            .timestamp_opt(ts, 0)
            .single()
            .map(|d| d.naive_local().and_utc().timestamp())
            .unwrap_or(ts);
        PartialDateTime::from_date_timestamp(local)
    } else {
        PartialDateTime::from_utc_timestamp(ts)
    }
}

fn date_params(all_day: bool) -> Vec<ICalendarParameter> {
    if all_day {
        vec![ICalendarParameter::value(ICalendarValueType::Date)]
    } else {
        Vec::new()
    }
}

/// A date property with `value`, its TZID and VALUE parameters replaced.
fn date_entry(e: &ICalendarEntry, value: &PartialDateTime, all_day: bool) -> ICalendarEntry {
    let mut params: Vec<ICalendarParameter> = e
        .params
        .iter()
        .filter(|p| {
            !matches!(
                p.name,
                ICalendarParameterName::Tzid | ICalendarParameterName::Value
            )
        })
        .cloned()
        .collect();
    params.extend(date_params(all_day));
    ICalendarEntry {
        name: e.name.clone(),
        params,
        values: vec![ICalendarValue::PartialDateTime(Box::new(value.clone()))],
    }
}

/// The zone of a date property: its TZID resolved in the object, else `zone`.
fn entry_zone(e: &ICalendarEntry, zone: Tz, calendar: &ICalendar) -> Tz {
    let tzid = e.params.iter().find_map(|p| match (&p.name, &p.value) {
        (ICalendarParameterName::Tzid, ICalendarParameterValue::Text(t)) => Some(t.as_str()),
        _ => None,
    });
    match tzid {
        Some(id) => calendar
            .build_tz_resolver()
            .resolve(id)
            .or_else(|| id.parse().ok())
            .unwrap_or(zone),
        None => zone,
    }
}

/// Other date-time properties with a TZID (EXDATE is gone; RECURRENCE-ID is rewritten)
/// converted to UTC so that no VTIMEZONE is needed (§9.6.5).
fn to_utc(e: &ICalendarEntry, zone: Tz, calendar: &ICalendar) -> ICalendarEntry {
    let has_tzid = e
        .params
        .iter()
        .any(|p| p.name == ICalendarParameterName::Tzid);
    if !has_tzid {
        return e.clone();
    }
    let tz = entry_zone(e, zone, calendar);
    let mut out = e.clone();
    out.params
        .retain(|p| p.name != ICalendarParameterName::Tzid);
    for v in &mut out.values {
        if let ICalendarValue::PartialDateTime(d) = v {
            if d.has_time() {
                if let Some(t) = d.to_date_time_with_tz(tz) {
                    **d = PartialDateTime::from_utc_timestamp(t.timestamp());
                }
            }
        }
    }
    out
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

/// The answer to a free-busy-query (RFC 4791 §7.10): a VCALENDAR holding one VFREEBUSY
/// with DTSTAMP (`now`), DTSTART and DTEND (the range) and one FREEBUSY property per
/// period, FBTYPE set when not BUSY, all in UTC. `periods` as [`super::freebusy::merge`]
/// gives them.
pub fn vfreebusy(periods: &[super::freebusy::Busy], start: i64, end: i64, now: i64) -> String {
    use super::freebusy::BusyKind;
    use calcard::icalendar::ICalendarFreeBusyType;
    let utc =
        |t: i64| ICalendarValue::PartialDateTime(Box::new(PartialDateTime::from_utc_timestamp(t)));
    let mut fb = ICalendarComponent::new(ICalendarComponentType::VFreebusy);
    fb.add_property(ICalendarProperty::Dtstamp, utc(now));
    fb.add_property(ICalendarProperty::Dtstart, utc(start));
    fb.add_property(ICalendarProperty::Dtend, utc(end));
    for p in periods {
        let period = ICalendarValue::Period(ICalendarPeriod::Range {
            start: PartialDateTime::from_utc_timestamp(p.start),
            end: PartialDateTime::from_utc_timestamp(p.end),
        });
        let kind = match p.kind {
            BusyKind::Busy => ICalendarFreeBusyType::Busy,
            BusyKind::BusyUnavailable => ICalendarFreeBusyType::BusyUnavailable,
            BusyKind::BusyTentative => ICalendarFreeBusyType::BusyTentative,
        };
        fb.add_property_with_params(
            ICalendarProperty::Freebusy,
            [ICalendarParameter::fbtype(kind)],
            period,
        );
    }
    let mut root = ICalendarComponent::new(ICalendarComponentType::VCalendar);
    root.add_property(
        ICalendarProperty::Version,
        ICalendarValue::Text("2.0".into()),
    );
    root.add_property(
        ICalendarProperty::Prodid,
        ICalendarValue::Text("-//Ferrymail//CalDAV//EN".into()),
    );
    root.component_ids.push(1);
    ICalendar {
        components: vec![root, fb],
    }
    .to_string()
}
