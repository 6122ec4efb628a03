//! calendar-query filters (RFC 4791 §9.7) and their evaluation against one calendar object
//! (§7.8): comp-filter, prop-filter, param-filter, text-match, is-not-defined and
//! time-range, the last over every instance of a recurring component (see `timerange`).
//!
//! A filter is evaluated on the parsed object; nothing here reads iCalendar text.
//! Text values are compared through [`crate::protocols::carddav::text::Collation`], shared
//! with addressbook-query (RFC 4790 collations).
//!
//! Deviation: a text-match on a property whose value is not text (a date, a number) does
//! not match; §9.7.5 leaves the comparison of such values to the value's text form, which
//! clients do not use in practice.

use calcard::common::timezone::Tz;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarParameterValue,
    ICalendarProperty, ICalendarRelated, ICalendarValue,
};

use super::error::CalendarPrecondition;
use super::timerange::{self, Instance, Shape};
use crate::protocols::carddav::text::TextMatch;

/// CALDAV:time-range: Unix seconds, either side open (`None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TimeRange {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// CALDAV:comp-filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompFilter {
    /// The component name (`VCALENDAR`, `VEVENT`, …), as the request spelt it.
    pub name: String,
    pub test: CompTest,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompTest {
    IsNotDefined,
    /// Every part must match (an empty filter: the component exists).
    Match {
        time_range: Option<TimeRange>,
        props: Vec<PropFilter>,
        comps: Vec<CompFilter>,
    },
}

/// CALDAV:prop-filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropFilter {
    pub name: String,
    pub test: PropTest,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropTest {
    IsNotDefined,
    Match {
        time_range: Option<TimeRange>,
        text: Option<TextMatch>,
        params: Vec<ParamFilter>,
    },
}

/// CALDAV:param-filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamFilter {
    pub name: String,
    pub test: ParamTest,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamTest {
    IsNotDefined,
    /// The parameter exists (an empty param-filter).
    Exists,
    Text(TextMatch),
}

/// The latest end of `filter`'s time ranges, when every one of them has an end and none
/// is about alarms (a VALARM comp-filter: an alarm triggers before its instance); `None`
/// otherwise, and when there is no time range. Instances starting after it cannot decide
/// the filter.
pub fn latest_end(filter: &CompFilter) -> Option<i64> {
    fn walk(f: &CompFilter, ends: &mut Vec<Option<i64>>) -> bool {
        if f.name.eq_ignore_ascii_case("VALARM") {
            return false;
        }
        let CompTest::Match {
            time_range,
            props,
            comps,
        } = &f.test
        else {
            return true;
        };
        if let Some(r) = time_range {
            ends.push(r.end);
        }
        for p in props {
            if let PropTest::Match {
                time_range: Some(r),
                ..
            } = &p.test
            {
                ends.push(r.end);
            }
        }
        comps.iter().all(|c| walk(c, ends))
    }
    let mut ends = Vec::new();
    if !walk(filter, &mut ends) || ends.is_empty() {
        return None;
    }
    ends.into_iter()
        .try_fold(i64::MIN, |m, e| e.map(|e| m.max(e)))
}

/// One object against a query's filter, floating times taken in `zone` (the calendar's
/// time zone, CALDAV:calendar-timezone, else UTC).
pub struct Evaluator<'a> {
    calendar: &'a ICalendar,
    instances: Vec<Instance>,
}

impl<'a> Evaluator<'a> {
    /// Expands the object's instances once for every test of the filter.
    pub fn new(calendar: &'a ICalendar, zone: Tz) -> Result<Evaluator<'a>, CalendarPrecondition> {
        Evaluator::for_filter(calendar, zone, None)
    }

    /// [`Evaluator::new`] for `filter` alone: endless rules are expanded only as far as
    /// its time ranges reach ([`latest_end`], `timerange::instances_until`).
    pub fn for_filter(
        calendar: &'a ICalendar,
        zone: Tz,
        filter: Option<&CompFilter>,
    ) -> Result<Evaluator<'a>, CalendarPrecondition> {
        let until = filter.and_then(latest_end);
        let (instances, _) = timerange::instances_until(calendar, zone, until)?;
        Ok(Evaluator {
            calendar,
            instances,
        })
    }

    /// Whether the object matches `filter` (the top-level comp-filter, VCALENDAR).
    pub fn matches(&self, filter: &CompFilter) -> bool {
        let root = self.calendar.components.first();
        let is_root = root.is_some_and(|r| same(r.component_type.as_str(), &filter.name));
        match (&filter.test, is_root) {
            (CompTest::IsNotDefined, found) => !found,
            (_, false) => false,
            (test, true) => self.comp_test(0, test),
        }
    }

    /// Whether some child of component `parent` named `filter.name` passes its test (or,
    /// for is-not-defined, none exists).
    fn comp_filter(&self, parent: u32, filter: &CompFilter) -> bool {
        let mut children = self.children(parent, &filter.name).peekable();
        match &filter.test {
            CompTest::IsNotDefined => children.peek().is_none(),
            test => children.any(|id| self.comp_test(id, test)),
        }
    }

    fn comp_test(&self, id: u32, test: &CompTest) -> bool {
        let CompTest::Match {
            time_range,
            props,
            comps,
        } = test
        else {
            return false;
        };
        let Some(comp) = self.calendar.components.get(id as usize) else {
            return false;
        };
        time_range.is_none_or(|r| self.in_range(id, comp, &r))
            && props.iter().all(|p| prop_filter(comp, p))
            && comps.iter().all(|c| self.comp_filter(id, c))
    }

    fn children<'s>(&'s self, parent: u32, name: &'s str) -> impl Iterator<Item = u32> + 's {
        let ids = self
            .calendar
            .components
            .get(parent as usize)
            .map(|c| c.component_ids.as_slice())
            .unwrap_or(&[]);
        ids.iter().copied().filter(move |id| {
            self.calendar
                .components
                .get(*id as usize)
                .is_some_and(|c| same(c.component_type.as_str(), name))
        })
    }

    /// §9.9 for component `id`: an instance of it overlaps, or (VALARM) a trigger of it
    /// falls in the range.
    fn in_range(&self, id: u32, comp: &ICalendarComponent, r: &TimeRange) -> bool {
        if comp.component_type == ICalendarComponentType::VAlarm {
            return self.alarm_in_range(id, comp, r);
        }
        if timerange::undated_todo(self.calendar, id) {
            return true;
        }
        self.instances
            .iter()
            .any(|i| i.comp_id == id && i.overlaps(r.start, r.end))
    }

    /// RFC 4791 §9.9 VALARM: a trigger of any instance of the alarm's component, with its
    /// REPEATs, falls in `[start, end)`.
    fn alarm_in_range(&self, alarm_id: u32, alarm: &ICalendarComponent, r: &TimeRange) -> bool {
        let Some(parent) = self
            .calendar
            .components
            .iter()
            .position(|c| c.component_ids.contains(&alarm_id))
        else {
            return false;
        };
        let Some(trigger) = alarm.property(&ICalendarProperty::Trigger) else {
            return false;
        };
        let repeat = alarm
            .property(&ICalendarProperty::Repeat)
            .and_then(|e| e.values.first())
            .and_then(|v| v.as_integer())
            .unwrap_or(0)
            .clamp(0, 1000);
        let every = alarm
            .property(&ICalendarProperty::Duration)
            .and_then(|e| e.values.first())
            .and_then(|v| match v {
                ICalendarValue::Duration(d) => Some(d.as_seconds()),
                _ => None,
            })
            .unwrap_or(0);
        let fires = |at: i64| {
            (0..=repeat).any(|n| {
                let t = at.saturating_add(every.saturating_mul(n));
                Instance {
                    comp_id: alarm_id,
                    start: t,
                    end: t,
                    shape: Shape::Instant,
                }
                .overlaps(r.start, r.end)
            })
        };
        match trigger.values.first() {
            Some(ICalendarValue::PartialDateTime(dt)) => dt
                .to_date_time_with_tz(Tz::UTC)
                .is_some_and(|t| fires(t.timestamp())),
            Some(ICalendarValue::Duration(d)) => {
                let from_end = trigger.params.iter().any(|p| {
                    matches!(
                        p.value,
                        ICalendarParameterValue::Related(ICalendarRelated::End)
                    )
                });
                let offset = d.as_seconds();
                self.instances
                    .iter()
                    .filter(|i| i.comp_id as usize == parent)
                    .any(|i| fires(if from_end { i.end } else { i.start } + offset))
            }
            _ => false,
        }
    }
}

fn prop_filter(comp: &ICalendarComponent, filter: &PropFilter) -> bool {
    let mut found = comp
        .entries
        .iter()
        .filter(|e| same(e.name.as_str(), &filter.name))
        .peekable();
    match &filter.test {
        PropTest::IsNotDefined => found.peek().is_none(),
        PropTest::Match {
            time_range,
            text,
            params,
        } => found.any(|e| {
            time_range.is_none_or(|r| date_in_range(e, &r))
                && text.as_ref().is_none_or(|t| entry_text_matches(e, t))
                && params.iter().all(|p| param_filter(e, p))
        }),
    }
}

/// A date or date-time property (DTSTAMP, COMPLETED, …) as an instant in the range.
fn date_in_range(e: &ICalendarEntry, r: &TimeRange) -> bool {
    e.values.iter().any(|v| {
        v.as_partial_date_time()
            .and_then(|dt| dt.to_date_time_with_tz(Tz::UTC))
            .is_some_and(|t| {
                Instance {
                    comp_id: 0,
                    start: t.timestamp(),
                    end: t.timestamp(),
                    shape: Shape::Instant,
                }
                .overlaps(r.start, r.end)
            })
    })
}

fn entry_text_matches(e: &ICalendarEntry, t: &TextMatch) -> bool {
    let texts: Vec<&str> = e.values.iter().filter_map(|v| v.as_text()).collect();
    if texts.is_empty() {
        return false;
    }
    // A multi-valued property (CATEGORIES) matches when one of its values does; negation
    // applies to that whole answer (§9.7.5).
    t.matches_any(texts.into_iter())
}

fn param_filter(e: &ICalendarEntry, filter: &ParamFilter) -> bool {
    let mut values = e
        .params
        .iter()
        .filter(|p| same(p.name.as_str(), &filter.name))
        .peekable();
    match &filter.test {
        ParamTest::IsNotDefined => values.peek().is_none(),
        ParamTest::Exists => values.peek().is_some(),
        ParamTest::Text(t) => {
            let texts: Vec<&str> = values.filter_map(|p| p.value.as_text()).collect();
            !texts.is_empty() && t.matches_any(texts.into_iter())
        }
    }
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}
