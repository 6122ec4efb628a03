//! CalDAV REPORT bodies (RFC 4791 §7.8 calendar-query, §7.9 calendar-multiget, §7.10
//! free-busy-query) parsed from the [`crate::protocols::webdav::xml`] tree into the
//! [`super::filter`] types, so the HTTP layer only dispatches.
//!
//! Implementation notes:
//!
//! - time-range, expand, limit-recurrence-set and limit-freebusy-set take UTC date-times
//!   (`20060104T000000Z`, §9.9); any other form, a time-range with neither end, or an end
//!   not after its start fails `CALDAV:valid-filter`. expand and the two limits need both
//!   ends (§9.6.5-§9.6.7).
//! - The filter holds exactly one comp-filter, VCALENDAR (§9.7); anything else fails
//!   `CALDAV:valid-filter`.
//! - text-match's collation defaults to `i;ascii-casemap` (§9.7.5) and is always a
//!   substring match; an unknown collation fails `CALDAV:supported-collation`.
//! - `calendar-data` (§9.6) is read from inside `DAV:prop`: the component and property
//!   selection, and expand/limit ranges. `timezone` (§9.8) is kept as the client's
//!   VCALENDAR text, and RFC 7809's `timezone-id` as its name: resolving either to a zone
//!   is the caller's (it knows the calendar's own zone, the default).

use chrono::NaiveDateTime;

use super::filter::{
    CompFilter, CompTest, ParamFilter, ParamTest, PropFilter, PropTest, TimeRange,
};
use crate::protocols::carddav::text::{Collation, MatchType, TextMatch};
use crate::protocols::webdav::report::{self, attr, negate, required_name, ReportError, CALDAV};
use crate::protocols::webdav::request::Propfind;
use crate::protocols::webdav::xml::{Element, DAV};

/// Which items of a selection: all (`allprop`/`allcomp`) or these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Select<T> {
    All,
    Only(Vec<T>),
}

/// CALDAV:comp in calendar-data (§9.6.1): a component with the properties and
/// subcomponents to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompSelect {
    pub name: String,
    pub props: Select<PropSelect>,
    pub comps: Select<CompSelect>,
}

/// CALDAV:prop in calendar-data (§9.6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropSelect {
    pub name: String,
    /// `novalue="yes"`: the property without its value.
    pub novalue: bool,
}

/// CALDAV:calendar-data in a request (§9.6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalendarData {
    pub content_type: Option<String>,
    pub version: Option<String>,
    /// `None`: the whole object.
    pub comp: Option<CompSelect>,
    /// Recurrences expanded to instances overlapping this range (§9.6.5), both ends set.
    pub expand: Option<TimeRange>,
    /// The recurrence set limited to this range (§9.6.6), both ends set.
    pub limit_recurrence_set: Option<TimeRange>,
    /// FREEBUSY values limited to this range (§9.6.7), both ends set.
    pub limit_freebusy_set: Option<TimeRange>,
}

/// The zone floating times are taken in (§9.8, RFC 7809 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryZone {
    /// CALDAV:timezone: a VCALENDAR holding one VTIMEZONE, as the client sent it.
    Calendar(String),
    /// CALDAV:timezone-id: an IANA name.
    Id(String),
}

/// A calendar-query body (§9.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarQuery {
    pub props: Option<Propfind>,
    pub calendar_data: Option<CalendarData>,
    /// The VCALENDAR comp-filter.
    pub filter: CompFilter,
    pub timezone: Option<QueryZone>,
}

/// A calendar-multiget body (§9.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarMultiget {
    pub props: Option<Propfind>,
    pub calendar_data: Option<CalendarData>,
    pub hrefs: Vec<String>,
}

/// Reads a calendar-query root element.
pub fn calendar_query(root: &Element) -> Result<CalendarQuery, ReportError> {
    let filter = root
        .child(CALDAV, "filter")
        .ok_or_else(|| ReportError::BadXml("calendar-query needs a filter".into()))?;
    let mut comps = filter.elements().filter(|e| e.is(CALDAV, "comp-filter"));
    let top = match (comps.next(), comps.next()) {
        (Some(top), None) => comp_filter(top)?,
        _ => {
            return Err(ReportError::InvalidFilter(
                "the filter holds exactly one comp-filter".into(),
            ))
        }
    };
    if !top.name.eq_ignore_ascii_case("VCALENDAR") {
        return Err(ReportError::InvalidFilter(format!(
            "the top comp-filter is {}, not VCALENDAR",
            top.name
        )));
    }
    let timezone = if let Some(tz) = root.child(CALDAV, "timezone") {
        Some(QueryZone::Calendar(tz.text()))
    } else {
        root.child(CALDAV, "timezone-id")
            .map(|t| QueryZone::Id(t.text().trim().to_string()))
    };
    Ok(CalendarQuery {
        props: report::prop_request(root),
        calendar_data: calendar_data(root)?,
        filter: top,
        timezone,
    })
}

/// Reads a calendar-multiget root element.
pub fn calendar_multiget(root: &Element) -> Result<CalendarMultiget, ReportError> {
    Ok(CalendarMultiget {
        props: report::prop_request(root),
        calendar_data: calendar_data(root)?,
        hrefs: report::hrefs(root)?,
    })
}

/// Reads a free-busy-query root element: its time-range, both ends required (§7.10).
pub fn free_busy_query(root: &Element) -> Result<TimeRange, ReportError> {
    let el = root
        .child(CALDAV, "time-range")
        .ok_or_else(|| ReportError::BadXml("free-busy-query needs a time-range".into()))?;
    closed_range(el)
}

fn calendar_data(root: &Element) -> Result<Option<CalendarData>, ReportError> {
    let Some(el) = root
        .child(DAV, "prop")
        .and_then(|p| p.child(CALDAV, "calendar-data"))
    else {
        return Ok(None);
    };
    let closed = |local: &str| el.child(CALDAV, local).map(closed_range).transpose();
    Ok(Some(CalendarData {
        content_type: attr(el, "content-type").map(str::to_string),
        version: attr(el, "version").map(str::to_string),
        comp: el.child(CALDAV, "comp").map(comp_select).transpose()?,
        expand: closed("expand")?,
        limit_recurrence_set: closed("limit-recurrence-set")?,
        limit_freebusy_set: closed("limit-freebusy-set")?,
    }))
}

/// Nesting is bounded by the XML parser's depth limit.
fn comp_select(el: &Element) -> Result<CompSelect, ReportError> {
    let props = if el.child(CALDAV, "allprop").is_some() {
        Select::All
    } else {
        Select::Only(
            el.elements()
                .filter(|e| e.is(CALDAV, "prop"))
                .map(|p| {
                    Ok(PropSelect {
                        name: required_name(p)?,
                        novalue: attr(p, "novalue") == Some("yes"),
                    })
                })
                .collect::<Result<_, ReportError>>()?,
        )
    };
    let comps = if el.child(CALDAV, "allcomp").is_some() {
        Select::All
    } else {
        Select::Only(
            el.elements()
                .filter(|e| e.is(CALDAV, "comp"))
                .map(comp_select)
                .collect::<Result<_, _>>()?,
        )
    };
    Ok(CompSelect {
        name: required_name(el)?,
        props,
        comps,
    })
}

fn comp_filter(el: &Element) -> Result<CompFilter, ReportError> {
    let name = required_name(el)?;
    if el.child(CALDAV, "is-not-defined").is_some() {
        return Ok(CompFilter {
            name,
            test: CompTest::IsNotDefined,
        });
    }
    let mut props = Vec::new();
    let mut comps = Vec::new();
    for child in el.elements() {
        if child.is(CALDAV, "prop-filter") {
            props.push(prop_filter(child)?);
        } else if child.is(CALDAV, "comp-filter") {
            comps.push(comp_filter(child)?);
        }
    }
    Ok(CompFilter {
        name,
        test: CompTest::Match {
            time_range: el.child(CALDAV, "time-range").map(time_range).transpose()?,
            props,
            comps,
        },
    })
}

fn prop_filter(el: &Element) -> Result<PropFilter, ReportError> {
    let name = required_name(el)?;
    if el.child(CALDAV, "is-not-defined").is_some() {
        return Ok(PropFilter {
            name,
            test: PropTest::IsNotDefined,
        });
    }
    let time_range = el.child(CALDAV, "time-range").map(time_range).transpose()?;
    let text = el.child(CALDAV, "text-match").map(text_match).transpose()?;
    if time_range.is_some() && text.is_some() {
        return Err(ReportError::InvalidFilter(format!(
            "prop-filter {name} has both a time-range and a text-match"
        )));
    }
    let mut params = Vec::new();
    for p in el.elements().filter(|e| e.is(CALDAV, "param-filter")) {
        let test = if p.child(CALDAV, "is-not-defined").is_some() {
            ParamTest::IsNotDefined
        } else {
            match p.child(CALDAV, "text-match") {
                Some(t) => ParamTest::Text(text_match(t)?),
                None => ParamTest::Exists,
            }
        };
        params.push(ParamFilter {
            name: required_name(p)?,
            test,
        });
    }
    Ok(PropFilter {
        name,
        test: PropTest::Match {
            time_range,
            text,
            params,
        },
    })
}

/// A CALDAV:text-match (§9.7.5): a substring match.
fn text_match(el: &Element) -> Result<TextMatch, ReportError> {
    let collation = match attr(el, "collation") {
        None => Collation::AsciiCasemap,
        Some(name) => Collation::parse(name).ok_or_else(|| ReportError::UnsupportedCollation {
            ns: CALDAV,
            name: name.to_string(),
        })?,
    };
    Ok(TextMatch {
        value: el.text(),
        collation,
        match_type: MatchType::Contains,
        negate: negate(el)?,
    })
}

/// A time-range of a filter: at least one end (§9.9).
fn time_range(el: &Element) -> Result<TimeRange, ReportError> {
    let range = TimeRange {
        start: attr(el, "start").map(utc).transpose()?,
        end: attr(el, "end").map(utc).transpose()?,
    };
    match (range.start, range.end) {
        (None, None) => Err(ReportError::InvalidFilter(
            "a time-range needs a start or an end".into(),
        )),
        (Some(s), Some(e)) if e <= s => Err(ReportError::InvalidFilter(
            "a time-range ends before it starts".into(),
        )),
        _ => Ok(range),
    }
}

/// A range with both ends (expand, the limits, free-busy-query).
fn closed_range(el: &Element) -> Result<TimeRange, ReportError> {
    let range = time_range(el)?;
    if range.start.is_none() || range.end.is_none() {
        return Err(ReportError::InvalidFilter(format!(
            "{} needs both start and end",
            el.local
        )));
    }
    Ok(range)
}

/// A UTC date-time (`20060104T000000Z`) as Unix seconds.
fn utc(value: &str) -> Result<i64, ReportError> {
    let bad = || ReportError::InvalidFilter(format!("{value:?} is not a UTC date-time"));
    let digits = value.strip_suffix('Z').ok_or_else(bad)?;
    if digits.len() != 15 {
        return Err(bad());
    }
    NaiveDateTime::parse_from_str(digits, "%Y%m%dT%H%M%S")
        .map(|t| t.and_utc().timestamp())
        .map_err(|_| bad())
}
