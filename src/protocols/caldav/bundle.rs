//! Whole calendars as one file (`.ics`): splitting a VCALENDAR that holds many components
//! into one calendar object resource per UID (RFC 4791 §4.1), and merging stored objects
//! back into one VCALENDAR. Used by the console's `calendar import` / `calendar export`
//! and the API and dashboard built on them.
//!
//! Parsing and writing are calcard's: components are copied as parsed trees and written by
//! calcard's writer, never assembled from property text.
//!
//! # Rules
//!
//! - Every top-level component except VTIMEZONE is grouped by its UID, across every
//!   VCALENDAR of the file, in the order of first appearance: a recurring event's master
//!   and its overridden instances (RECURRENCE-ID) stay one object.
//! - Each object gets the VTIMEZONEs its components name in a `TZID` parameter (first
//!   definition of a TZID in the file wins; at most 64 per object), and the `VERSION`,
//!   `PRODID` and `CALSCALE` of the VCALENDAR it came from; other calendar-level
//!   properties are not copied (`METHOD` may not be stored, RFC 4791 §4.1; copying a large
//!   one into each of many objects would multiply the file).
//! - A component without UID, or a part of the file that is no VCALENDAR, is one
//!   [`Item`] with an error; the rest is not affected. Whether an object is acceptable
//!   (one type, one master, supported component…) is decided afterwards by
//!   `validate::validate_calendar` on each item.
//! - Merging keeps each object's components and every VTIMEZONE once (by TZID), under one
//!   VCALENDAR with `VERSION:2.0` and Ferrymail's `PRODID`.

use std::collections::HashMap;

use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarParameterName,
    ICalendarProperty, ICalendarValue,
};
use calcard::{Entry, Parser};

/// The PRODID of exported calendars.
pub const PRODID: &str = "-//Ferrymail//Calendar export//EN";

/// At most this many different TZIDs are followed per object (an object naming more is
/// refused later for the zones it lacks; the search for them stays linear).
const MAX_ZONES: usize = 64;

/// One object found in an import file: its text (written by calcard) or why it was left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The UID, when there is one.
    pub uid: Option<String>,
    pub data: Result<String, String>,
}

/// Copies the component `id` of `src` with its whole subtree into `dst` (appended); the new
/// id. Iterative: nesting depth is whatever the file had.
fn copy_tree(src: &ICalendar, id: u32, dst: &mut ICalendar) -> u32 {
    let new_id = dst.components.len() as u32;
    // (source id, the new id of the parent it goes under)
    let mut stack: Vec<(u32, Option<u32>)> = vec![(id, None)];
    while let Some((sid, parent)) = stack.pop() {
        let Some(c) = src.components.get(sid as usize) else {
            continue;
        };
        let this = dst.components.len() as u32;
        dst.components.push(ICalendarComponent {
            component_type: c.component_type.clone(),
            entries: c.entries.clone(),
            component_ids: Vec::new(),
        });
        if let Some(p) = parent {
            dst.components[p as usize].component_ids.push(this);
        }
        // Reversed, so that children come out in their order.
        for child in c.component_ids.iter().rev() {
            stack.push((*child, Some(this)));
        }
    }
    new_id
}

/// The TZID parameters used anywhere in the subtree of `id`.
fn tzids_used(cal: &ICalendar, id: u32, out: &mut Vec<String>) {
    let mut stack = vec![id];
    while let Some(i) = stack.pop() {
        let Some(c) = cal.components.get(i as usize) else {
            continue;
        };
        for e in &c.entries {
            for p in &e.params {
                if p.name == ICalendarParameterName::Tzid {
                    if let Some(t) = p.value.as_text() {
                        if out.len() < MAX_ZONES && !out.iter().any(|o| o == t) {
                            out.push(t.to_string());
                        }
                    }
                }
            }
        }
        stack.extend(c.component_ids.iter().copied());
    }
}

fn text_of(c: &ICalendarComponent, prop: &ICalendarProperty) -> Option<String> {
    c.property(prop)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// A new calendar whose root is a VCALENDAR with `entries`.
fn with_root(entries: Vec<ICalendarEntry>) -> ICalendar {
    ICalendar {
        components: vec![ICalendarComponent {
            component_type: ICalendarComponentType::VCalendar,
            entries,
            component_ids: Vec::new(),
        }],
    }
}

fn append_under_root(src: &ICalendar, id: u32, dst: &mut ICalendar) {
    let new_id = copy_tree(src, id, dst);
    dst.components[0].component_ids.push(new_id);
}

/// The ids of the components directly inside the VCALENDAR.
fn root_ids(cal: &ICalendar) -> Vec<u32> {
    cal.components
        .first()
        .map(|r| r.component_ids.clone())
        .unwrap_or_default()
}

/// Where each UID's components are: (calendar index, component id) in file order.
struct Group {
    uid: String,
    parts: Vec<(usize, u32)>,
}

/// Splits an import file (module rules). Items come in file order of first appearance.
pub fn split(text: &str) -> Vec<Item> {
    let mut calendars: Vec<ICalendar> = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    let mut parser = Parser::new(text);
    // Each entry consumes input; the parser ends with Eof.
    loop {
        match parser.entry() {
            Entry::Eof => break,
            Entry::ICalendar(c)
                if c.components.first().map(|r| &r.component_type)
                    == Some(&ICalendarComponentType::VCalendar) =>
            {
                calendars.push(c)
            }
            Entry::ICalendar(c) => items.push(Item {
                uid: c
                    .components
                    .first()
                    .and_then(|r| r.uid())
                    .map(str::to_string),
                data: Err(format!(
                    "a {} outside any VCALENDAR",
                    c.components
                        .first()
                        .map(|r| r.component_type.as_str())
                        .unwrap_or("component")
                )),
            }),
            Entry::VCard(_) => items.push(Item {
                uid: None,
                data: Err("a vCard in a calendar file".into()),
            }),
            Entry::InvalidLine(l) => items.push(Item {
                uid: None,
                data: Err(format!("not iCalendar: {l:?}")),
            }),
            Entry::UnexpectedComponentEnd { expected, found } => items.push(Item {
                uid: None,
                data: Err(format!(
                    "END:{} where END:{} was expected",
                    found.as_str(),
                    expected.as_str()
                )),
            }),
            Entry::UnterminatedComponent(c) => items.push(Item {
                uid: None,
                data: Err(format!("BEGIN:{c} without its END")),
            }),
            Entry::TooManyComponents => {
                items.push(Item {
                    uid: None,
                    data: Err("too many components".into()),
                });
                break;
            }
            other => items.push(Item {
                uid: None,
                data: Err(format!("not iCalendar: {other:?}")),
            }),
        }
    }
    // VTIMEZONEs by TZID (the first definition wins), and the groups by UID.
    let mut zones: HashMap<String, (usize, u32)> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut by_uid: HashMap<String, usize> = HashMap::new();
    for (ci, cal) in calendars.iter().enumerate() {
        for id in root_ids(cal) {
            let Some(c) = cal.components.get(id as usize) else {
                continue;
            };
            if c.component_type == ICalendarComponentType::VTimezone {
                if let Some(tzid) = text_of(c, &ICalendarProperty::Tzid) {
                    zones.entry(tzid).or_insert((ci, id));
                }
                continue;
            }
            match text_of(c, &ICalendarProperty::Uid) {
                Some(uid) => {
                    let g = *by_uid.entry(uid.clone()).or_insert_with(|| {
                        groups.push(Group {
                            uid,
                            parts: Vec::new(),
                        });
                        groups.len() - 1
                    });
                    groups[g].parts.push((ci, id));
                }
                None => items.push(Item {
                    uid: None,
                    data: Err(format!("a {} without UID", c.component_type.as_str())),
                }),
            }
        }
    }
    for g in groups {
        let (first_cal, _) = g.parts[0];
        // Only the root's identity goes into each object: copying every root property
        // (a large X- property, say) into each of many objects could multiply the input.
        let root_entries = calendars[first_cal].components[0]
            .entries
            .iter()
            .filter(|e| {
                matches!(
                    e.name,
                    ICalendarProperty::Version
                        | ICalendarProperty::Prodid
                        | ICalendarProperty::Calscale
                )
            })
            .cloned()
            .collect();
        let mut out = with_root(root_entries);
        let mut tzids = Vec::new();
        for (ci, id) in &g.parts {
            tzids_used(&calendars[*ci], *id, &mut tzids);
        }
        for tzid in &tzids {
            if let Some((ci, id)) = zones.get(tzid) {
                append_under_root(&calendars[*ci], *id, &mut out);
            }
        }
        for (ci, id) in &g.parts {
            append_under_root(&calendars[*ci], *id, &mut out);
        }
        items.push(Item {
            uid: Some(g.uid),
            data: Ok(out.to_string()),
        });
    }
    items
}

/// Merges stored objects into one VCALENDAR (module rules). An object that does not parse
/// is left out and named in the second value (by its position).
pub fn merge<'a>(objects: impl IntoIterator<Item = &'a str>) -> (String, Vec<usize>) {
    let mut out = with_root(vec![
        ICalendarEntry {
            name: ICalendarProperty::Version,
            params: Vec::new(),
            values: vec![ICalendarValue::Text("2.0".into())],
        },
        ICalendarEntry {
            name: ICalendarProperty::Prodid,
            params: Vec::new(),
            values: vec![ICalendarValue::Text(PRODID.into())],
        },
    ]);
    let mut zones: Vec<String> = Vec::new();
    let mut bad = Vec::new();
    for (n, text) in objects.into_iter().enumerate() {
        let Entry::ICalendar(cal) = Parser::new(text).entry() else {
            bad.push(n);
            continue;
        };
        for id in root_ids(&cal) {
            let c = &cal.components[id as usize];
            if c.component_type == ICalendarComponentType::VTimezone {
                let tzid = text_of(c, &ICalendarProperty::Tzid).unwrap_or_default();
                if zones.contains(&tzid) {
                    continue;
                }
                zones.push(tzid);
            }
            append_under_root(&cal, id, &mut out);
        }
    }
    (out.to_string(), bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::caldav::validate::{validate_calendar, ComponentKind};

    const FILE: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nMETHOD:PUBLISH\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
BEGIN:VTIMEZONE\r\nTZID:Unused/Zone\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n\
TZOFFSETFROM:+0000\r\nTZOFFSETTO:+0000\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=Europe/Berlin:20260105T090000\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY\r\n\
SUMMARY:Standup\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:soon\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:once\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260201T100000Z\r\n\
SUMMARY:Once\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20260101T000000Z\r\n\
RECURRENCE-ID;TZID=Europe/Berlin:20260112T090000\r\n\
DTSTART;TZID=Europe/Berlin:20260112T100000\r\nDURATION:PT1H\r\nSUMMARY:Standup (moved)\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260301T100000Z\r\nSUMMARY:No UID\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

    #[test]
    fn splits_by_uid_keeping_overrides_and_their_zones() {
        let items = split(FILE);
        let ok: Vec<_> = items.iter().filter(|i| i.data.is_ok()).collect();
        let bad: Vec<_> = items.iter().filter(|i| i.data.is_err()).collect();
        assert_eq!(ok.len(), 2);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].data.as_ref().unwrap_err().contains("without UID"));
        let weekly = ok
            .iter()
            .find(|i| i.uid.as_deref() == Some("weekly"))
            .unwrap();
        let text = weekly.data.as_ref().unwrap();
        assert!(!text.contains("METHOD"), "{text}");
        assert_eq!(text.matches("BEGIN:VTIMEZONE").count(), 1, "{text}");
        assert!(text.contains("TZID:Europe/Berlin"));
        assert!(!text.contains("Unused/Zone"));
        assert_eq!(text.matches("BEGIN:VEVENT").count(), 2);
        assert!(text.contains("BEGIN:VALARM"));
        // Each piece is a valid calendar object resource.
        for i in &ok {
            let o = validate_calendar(i.data.as_ref().unwrap(), &[ComponentKind::Event], 1 << 20)
                .unwrap();
            assert_eq!(Some(o.uid), i.uid);
        }
        let once = ok
            .iter()
            .find(|i| i.uid.as_deref() == Some("once"))
            .unwrap();
        assert!(!once.data.as_ref().unwrap().contains("VTIMEZONE"));
    }

    #[test]
    fn merge_then_split_gives_the_same_objects() {
        let items = split(FILE);
        let texts: Vec<&str> = items
            .iter()
            .filter_map(|i| i.data.as_ref().ok().map(String::as_str))
            .collect();
        let (merged, bad) = merge(texts.iter().copied());
        assert!(bad.is_empty());
        assert_eq!(merged.matches("BEGIN:VTIMEZONE").count(), 1, "{merged}");
        assert!(merged.contains(PRODID));
        let again = split(&merged);
        assert_eq!(again.len(), 2);
        for i in &again {
            let before = items.iter().find(|x| x.uid == i.uid).unwrap();
            let comps = |t: &str| {
                let Entry::ICalendar(c) = Parser::new(t).entry() else {
                    panic!("not a calendar")
                };
                let mut v: Vec<String> = root_ids(&c)
                    .into_iter()
                    .map(|id| {
                        let mut one = with_root(vec![]);
                        append_under_root(&c, id, &mut one);
                        one.to_string()
                    })
                    .collect();
                v.sort();
                v
            };
            assert_eq!(
                comps(before.data.as_ref().unwrap()),
                comps(i.data.as_ref().unwrap())
            );
        }
    }

    #[test]
    fn garbage_and_stray_components_are_items_with_errors() {
        let items = split("hello\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n");
        assert!(items.iter().all(|i| i.data.is_err()), "{items:?}");
        assert!(!items.is_empty());
        assert!(split("").is_empty());
    }
}
