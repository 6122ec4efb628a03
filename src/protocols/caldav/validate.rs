//! What a calendar collection accepts (RFC 4791 §4.1, §5.3.2.1): the checks a PUT of a
//! calendar object resource passes before anything is stored, and the facts the store keeps
//! beside it (UID, component type, the span of its instances for time-range prefiltering).
//!
//! Parsing is calcard's: nothing here reads iCalendar text by hand. Its lenient mode is
//! used (its strict mode refuses every nested component in 0.3), so a line that is not a
//! property is skipped rather than refused; what the rules below need is checked on the
//! parsed object.
//!
//! # Rules, each with the precondition a refusal names
//!
//! - The body is one iCalendar object (`BEGIN:VCALENDAR` … `END:VCALENDAR`) and nothing
//!   after it; it parses strictly and has `VERSION:2.0` → else `valid-calendar-data`.
//! - No `METHOD` property (§4.1: scheduling messages are not stored objects); at least one
//!   component besides VTIMEZONE, all of one type; every one has the same non-empty UID;
//!   at most one has no RECURRENCE-ID (the master) and no two share a RECURRENCE-ID →
//!   else `valid-calendar-object-resource`. A UID with a control character (an escaped
//!   newline) → `valid-calendar-data`.
//! - That type is among the collection's supported components → else
//!   `supported-calendar-component`.
//! - The object's size is at most the collection's `max-resource-size` → else
//!   `max-resource-size`.
//! - `no-uid-conflict` is decided by the store (the UID is unique per collection); its name
//!   is here so that every precondition of a PUT maps in one place.
//!
//! Deviation: a missing PRODID is accepted (RFC 5545 requires it, but clients that omit it
//! exist and nothing here reads it).

use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarProperty, ICalendarValue,
};
use calcard::{Entry, Parser};

pub use super::error::CalendarPrecondition;
use super::timerange;

/// A component type a calendar collection can hold (RFC 4791 §5.2.3
/// supported-calendar-component-set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ComponentKind {
    Event,
    Todo,
    Journal,
    FreeBusy,
}

impl ComponentKind {
    /// Every kind, in the order a collection lists them.
    pub const ALL: [ComponentKind; 4] = [
        ComponentKind::Event,
        ComponentKind::Todo,
        ComponentKind::Journal,
        ComponentKind::FreeBusy,
    ];

    /// The iCalendar name (`VEVENT`, …), as stored and as the XML `name` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Event => "VEVENT",
            ComponentKind::Todo => "VTODO",
            ComponentKind::Journal => "VJOURNAL",
            ComponentKind::FreeBusy => "VFREEBUSY",
        }
    }

    /// Reads a name case-insensitively.
    pub fn parse(name: &str) -> Option<ComponentKind> {
        ComponentKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(name))
    }

    pub(crate) fn of(t: &ICalendarComponentType) -> Option<ComponentKind> {
        match t {
            ICalendarComponentType::VEvent => Some(ComponentKind::Event),
            ICalendarComponentType::VTodo => Some(ComponentKind::Todo),
            ICalendarComponentType::VJournal => Some(ComponentKind::Journal),
            ICalendarComponentType::VFreebusy => Some(ComponentKind::FreeBusy),
            _ => None,
        }
    }
}

/// A calendar object resource that passed every check.
#[derive(Clone, Debug)]
pub struct CalendarObject {
    pub calendar: ICalendar,
    pub uid: String,
    pub kind: ComponentKind,
    /// Unix seconds of the earliest instance start, widened by the largest UTC offset (floating
    /// times and dates take the query's zone); `None` when there is no dated instance (a
    /// VTODO with neither DTSTART nor DUE matches every range, RFC 4791 §9.9).
    pub first: Option<i64>,
    /// Unix seconds of the latest instance end, widened likewise; `None` when unbounded
    /// (a recurrence without COUNT or UNTIL) or undated.
    pub last: Option<i64>,
}

/// Parses one iCalendar object and nothing else (strict), or says why not.
pub fn parse_calendar(data: &str) -> Result<ICalendar, CalendarPrecondition> {
    // Not calcard's strict mode: in 0.3 it refuses every nested BEGIN (any VEVENT).
    let mut parser = Parser::new(data);
    let calendar = match parser.entry() {
        Entry::ICalendar(c) => c,
        Entry::Eof => return Err(invalid_data("the body is empty")),
        Entry::VCard(_) => return Err(invalid_data("a vCard is not an iCalendar object")),
        other => return Err(invalid_data(&format!("not iCalendar: {other:?}"))),
    };
    match parser.entry() {
        Entry::Eof => {}
        _ => {
            return Err(CalendarPrecondition::ValidCalendarObjectResource(
                "more than one object in the resource".into(),
            ))
        }
    }
    let Some(root) = calendar.components.first() else {
        return Err(invalid_data("no VCALENDAR"));
    };
    if root.component_type != ICalendarComponentType::VCalendar {
        return Err(invalid_data("the object is not a VCALENDAR"));
    }
    let version = root
        .property(&ICalendarProperty::Version)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_text());
    if version.map(str::trim) != Some("2.0") {
        return Err(invalid_data("VERSION:2.0 is required"));
    }
    if nesting(&calendar) > MAX_NESTING {
        return Err(invalid_data("components nested too deeply"));
    }
    Ok(calendar)
}

/// The deepest nesting iCalendar has is VCALENDAR > VTIMEZONE > STANDARD or VCALENDAR >
/// VEVENT > VALARM (three levels); deeper objects are refused, so that code walking the
/// tree (calendar-data output) never recurses without bound.
const MAX_NESTING: usize = 8;

/// The nesting depth of `calendar`'s components (the root counts 1), found without
/// recursion; a component id seen twice is not followed again.
fn nesting(calendar: &ICalendar) -> usize {
    let mut deepest = 0;
    let mut seen = vec![false; calendar.components.len()];
    let mut stack = vec![(0u32, 1usize)];
    while let Some((id, depth)) = stack.pop() {
        let Some(c) = calendar.components.get(id as usize) else {
            continue;
        };
        if std::mem::replace(&mut seen[id as usize], true) {
            continue;
        }
        deepest = deepest.max(depth);
        if deepest > MAX_NESTING {
            break;
        }
        stack.extend(c.component_ids.iter().map(|&child| (child, depth + 1)));
    }
    deepest
}

/// Every check of the module documentation, for a resource of `data` going into a
/// collection that accepts `supported` and at most `max_size` bytes.
pub fn validate_calendar(
    data: &str,
    supported: &[ComponentKind],
    max_size: usize,
) -> Result<CalendarObject, CalendarPrecondition> {
    if data.len() > max_size {
        return Err(CalendarPrecondition::MaxResourceSize {
            size: data.len(),
            limit: max_size,
        });
    }
    let calendar = parse_calendar(data)?;
    let root = &calendar.components[0];
    if root.has_property(&ICalendarProperty::Method) {
        return Err(object("METHOD is not allowed in a stored object"));
    }
    let children: Vec<&ICalendarComponent> = top_level(&calendar)
        .filter(|c| c.component_type != ICalendarComponentType::VTimezone)
        .collect();
    let Some(first) = children.first() else {
        return Err(object("no VEVENT, VTODO, VJOURNAL or VFREEBUSY"));
    };
    let kind = ComponentKind::of(&first.component_type).ok_or_else(|| {
        CalendarPrecondition::SupportedCalendarComponent(first.component_type.as_str().to_string())
    })?;
    if children
        .iter()
        .any(|c| c.component_type != first.component_type)
    {
        return Err(object("components of more than one type"));
    }
    let uid = one_uid(&children)?;
    check_instances(&children)?;
    if !supported.contains(&kind) {
        return Err(CalendarPrecondition::SupportedCalendarComponent(
            kind.as_str().to_string(),
        ));
    }
    let (first, last) = timerange::index_span(&calendar)?;
    Ok(CalendarObject {
        calendar,
        uid,
        kind,
        first,
        last,
    })
}

/// The components directly inside the VCALENDAR.
pub(crate) fn top_level(calendar: &ICalendar) -> impl Iterator<Item = &ICalendarComponent> {
    let ids = calendar
        .components
        .first()
        .map(|root| root.component_ids.as_slice())
        .unwrap_or(&[]);
    ids.iter()
        .filter_map(|id| calendar.components.get(*id as usize))
}

fn one_uid(children: &[&ICalendarComponent]) -> Result<String, CalendarPrecondition> {
    let mut uid: Option<&str> = None;
    for c in children {
        let this = c.uid().map(str::trim).unwrap_or("");
        if this.is_empty() {
            return Err(object("a component has no UID"));
        }
        // A UID is a line of text: a control character (an escaped newline, say) could
        // pass for the scheduling inbox's own keys (`scheduling::deliver::counter_key`).
        if this.chars().any(char::is_control) {
            return Err(invalid_data("a UID with a control character"));
        }
        match uid {
            Some(u) if u != this => return Err(object("components with different UIDs")),
            _ => uid = Some(this),
        }
    }
    Ok(uid.unwrap_or_default().to_string())
}

/// One master at most, and overridden instances with distinct RECURRENCE-IDs.
fn check_instances(children: &[&ICalendarComponent]) -> Result<(), CalendarPrecondition> {
    let mut masters = 0;
    let mut ids = Vec::new();
    for c in children {
        match c.property(&ICalendarProperty::RecurrenceId) {
            None => masters += 1,
            Some(e) => {
                let text = e
                    .values
                    .iter()
                    .map(value_text)
                    .collect::<Vec<_>>()
                    .join(",");
                if ids.contains(&text) {
                    return Err(object("two instances with the same RECURRENCE-ID"));
                }
                ids.push(text);
            }
        }
    }
    if masters > 1 {
        return Err(object("more than one component without RECURRENCE-ID"));
    }
    Ok(())
}

fn value_text(v: &ICalendarValue) -> String {
    match v {
        ICalendarValue::PartialDateTime(dt) => format!("{dt:?}"),
        other => other.as_text().unwrap_or_default().to_string(),
    }
}

fn invalid_data(why: &str) -> CalendarPrecondition {
    CalendarPrecondition::ValidCalendarData(why.to_string())
}

fn object(why: &str) -> CalendarPrecondition {
    CalendarPrecondition::ValidCalendarObjectResource(why.to_string())
}
