//! iTIP (RFC 5546) as CalDAV implicit scheduling uses it (RFC 6638 §3.2), without I/O: which
//! scheduling messages a change to a calendar object means, and what an incoming message
//! does to a stored copy. `scheduling` (the crate's effects module) delivers what this
//! computes; everything here works on calcard's parsed [`ICalendar`], and every message is
//! written by calcard's writer, never by concatenating property text.
//!
//! # Rules
//!
//! - The organizer's side ([`organizer_messages`]), from the old and new object (either may
//!   be absent): a REQUEST to every attendee of the new object when it changed materially
//!   ([`material`]: anything but DTSTAMP, LAST-MODIFIED, CREATED, SEQUENCE, alarms and the
//!   attendees' PARTSTAT/RSVP/SCHEDULE-* parameters), and to attendees added (to the event or
//!   to one of its instances) even when nothing else changed; a CANCEL to attendees removed
//!   from the event or from some of its instances (those instances only), and to every
//!   attendee when the object is deleted.
//! - Per attendee, a message carries only the components (master, overridden instances)
//!   that name that attendee (RFC 6638 §3.2.6: an attendee invited to one instance hears of
//!   that instance only).
//! - The attendee's side ([`attendee_reply`]): a REPLY to the organizer when the attendee's
//!   PARTSTAT changed on some component (the components that changed, with only that
//!   attendee), and a REPLY with PARTSTAT=DECLINED when the attendee deletes the copy.
//! - SCHEDULE-AGENT (RFC 6638 §7.1): an ATTENDEE with CLIENT or NONE gets nothing from the
//!   server; an ORGANIZER with CLIENT or NONE gets no REPLY. SCHEDULE-FORCE-SEND=REQUEST
//!   sends a REQUEST even without a material change.
//! - The organizer never sends to itself; addresses compare without `mailto:`, in lower case.
//! - Outgoing messages carry METHOD, PRODID, VERSION, the object's VTIMEZONEs, a fresh
//!   DTSTAMP, no alarms and no SCHEDULE-AGENT/SCHEDULE-STATUS/SCHEDULE-FORCE-SEND parameters
//!   (§3.2.3); a CANCEL has STATUS:CANCELLED and the SEQUENCE raised by one.
//! - Incoming: [`apply_reply`] sets the replying attendee's PARTSTAT in the organizer's copy
//!   (refused when that attendee is not on it); [`apply_cancel`] marks the cancelled
//!   components (or the whole event) STATUS:CANCELLED; [`attendee_copy`] makes the
//!   attendee's stored copy of a REQUEST (no METHOD, the attendee's PARTSTAT NEEDS-ACTION
//!   when the organizer gave none).

use std::collections::{BTreeMap, BTreeSet};

use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarMethod,
    ICalendarParameter, ICalendarParameterName, ICalendarParameterValue,
    ICalendarParticipationStatus, ICalendarProperty, ICalendarStatus, ICalendarValue,
};

use super::caldav::validate::top_level;

pub mod freebusy;
mod merge;

pub use merge::keep_replies;

#[cfg(test)]
mod tests;

/// PRODID of the messages this server writes.
pub const PRODID: &str = "-//Ferrymail//CalDAV scheduling//EN";

/// The iTIP methods the server sends and understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Request,
    Reply,
    Cancel,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Reply => "REPLY",
            Method::Cancel => "CANCEL",
        }
    }

    /// The METHOD of a scheduling message, when it is one of the three.
    pub fn of(cal: &ICalendar) -> Option<Method> {
        let root = cal.components.first()?;
        let text = root
            .property(&ICalendarProperty::Method)?
            .values
            .first()?
            .as_text()?
            .trim()
            .to_ascii_uppercase();
        match text.as_str() {
            "REQUEST" => Some(Method::Request),
            "REPLY" => Some(Method::Reply),
            "CANCEL" => Some(Method::Cancel),
            _ => None,
        }
    }

    fn value(self) -> ICalendarMethod {
        match self {
            Method::Request => ICalendarMethod::Request,
            Method::Reply => ICalendarMethod::Reply,
            Method::Cancel => ICalendarMethod::Cancel,
        }
    }
}

/// One scheduling message for one recipient.
#[derive(Clone, Debug)]
pub struct Message {
    pub method: Method,
    /// The recipient's calendar user address (lower case, no `mailto:`).
    pub recipient: String,
    /// The sender's (the organizer for REQUEST/CANCEL, the attendee for REPLY).
    pub sender: String,
    pub uid: String,
    pub calendar: ICalendar,
}

impl Message {
    /// The message as iCalendar text (calcard's writer).
    pub fn text(&self) -> String {
        self.calendar.to_string()
    }

    /// The SUMMARY of its first component ("" when none).
    pub fn summary(&self) -> String {
        summary(&self.calendar)
    }
}

/// A calendar user address without `mailto:`, trimmed, in lower case; `None` when it is no
/// e-mail address.
pub fn address(value: &str) -> Option<String> {
    let v = value.trim();
    let v = match v.split_once(':') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mailto") => rest,
        _ => v,
    };
    let v = v.trim().to_ascii_lowercase();
    (v.contains('@') && !v.contains(char::is_whitespace)).then_some(v)
}

/// An ATTENDEE as scheduling reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attendee {
    pub address: String,
    /// PARTSTAT in upper case (`NEEDS-ACTION` when absent, RFC 5545 §3.2.12).
    pub partstat: String,
    /// SCHEDULE-AGENT is SERVER (or absent).
    pub server: bool,
    /// SCHEDULE-FORCE-SEND=REQUEST.
    pub force_request: bool,
}

fn param_text(e: &ICalendarEntry, name: &ICalendarParameterName) -> Option<String> {
    e.parameter(name)
        .and_then(|v| v.as_text())
        .map(|t| t.trim().to_ascii_uppercase())
}

fn entry_address(e: &ICalendarEntry) -> Option<String> {
    e.values.first().and_then(|v| v.as_text()).and_then(address)
}

fn attendee_of(e: &ICalendarEntry) -> Option<Attendee> {
    Some(Attendee {
        address: entry_address(e)?,
        partstat: param_text(e, &ICalendarParameterName::Partstat)
            .unwrap_or_else(|| "NEEDS-ACTION".into()),
        server: server_agent(e),
        force_request: param_text(e, &ICalendarParameterName::ScheduleForceSend).as_deref()
            == Some("REQUEST"),
    })
}

fn server_agent(e: &ICalendarEntry) -> bool {
    param_text(e, &ICalendarParameterName::ScheduleAgent).is_none_or(|a| a == "SERVER")
}

/// The scheduling components (VEVENT, VTODO) directly in the VCALENDAR, with their index.
fn sched_components(cal: &ICalendar) -> Vec<(usize, &ICalendarComponent)> {
    let ids = cal
        .components
        .first()
        .map(|r| r.component_ids.clone())
        .unwrap_or_default();
    ids.into_iter()
        .filter_map(|id| cal.components.get(id as usize).map(|c| (id as usize, c)))
        .filter(|(_, c)| {
            matches!(
                c.component_type,
                ICalendarComponentType::VEvent | ICalendarComponentType::VTodo
            )
        })
        .collect()
}

/// A component's instance key: `None` for the master, the RECURRENCE-ID value otherwise.
pub type Key = Option<String>;

fn key_of(c: &ICalendarComponent) -> Key {
    c.property(&ICalendarProperty::RecurrenceId).map(|e| {
        e.values
            .iter()
            .map(|v| match v {
                ICalendarValue::PartialDateTime(dt) => {
                    let mut dt = (**dt).clone();
                    // A UTC "Z" and an offset-less value name the same instance when
                    // written by two clients; the key is the wall-clock fields.
                    dt.tz_hour = None;
                    dt.tz_minute = None;
                    dt.tz_minus = false;
                    format!("{dt:?}")
                }
                other => other.as_text().unwrap_or_default().to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// The ORGANIZER of the object (first scheduling component that has one), and whether its
/// SCHEDULE-AGENT is the server.
pub fn organizer(cal: &ICalendar) -> Option<(String, bool)> {
    sched_components(cal).into_iter().find_map(|(_, c)| {
        let e = c.property(&ICalendarProperty::Organizer)?;
        Some((entry_address(e)?, server_agent(e)))
    })
}

/// The UID of the object.
pub fn uid(cal: &ICalendar) -> Option<String> {
    sched_components(cal)
        .into_iter()
        .find_map(|(_, c)| c.uid().map(|u| u.trim().to_string()))
}

/// The SUMMARY of the first scheduling component ("" when none).
pub fn summary(cal: &ICalendar) -> String {
    sched_components(cal)
        .into_iter()
        .find_map(|(_, c)| {
            c.property(&ICalendarProperty::Summary)
                .and_then(|e| e.values.first())
                .and_then(|v| v.as_text())
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// Every attendee of the object, each once (first occurrence), with the instance keys it
/// appears on.
pub fn attendees(cal: &ICalendar) -> BTreeMap<String, (Attendee, BTreeSet<Key>)> {
    let mut out: BTreeMap<String, (Attendee, BTreeSet<Key>)> = BTreeMap::new();
    for (_, c) in sched_components(cal) {
        let key = key_of(c);
        for e in c.properties(&ICalendarProperty::Attendee) {
            if let Some(a) = attendee_of(e) {
                out.entry(a.address.clone())
                    .or_insert_with(|| (a, BTreeSet::new()))
                    .1
                    .insert(key.clone());
            }
        }
    }
    out
}

/// Whether `a` and `b` differ in anything an attendee must hear about (module comment).
pub fn material(a: &ICalendar, b: &ICalendar) -> bool {
    normalized(a) != normalized(b)
}

fn normalized(cal: &ICalendar) -> BTreeMap<Key, Vec<String>> {
    let mut out = BTreeMap::new();
    for (_, c) in sched_components(cal) {
        let mut lines: Vec<String> = c
            .entries
            .iter()
            .filter(|e| {
                !matches!(
                    e.name,
                    ICalendarProperty::Dtstamp
                        | ICalendarProperty::LastModified
                        | ICalendarProperty::Created
                        | ICalendarProperty::Sequence
                )
            })
            .map(|e| {
                let mut e = e.clone();
                if matches!(
                    e.name,
                    ICalendarProperty::Attendee | ICalendarProperty::Organizer
                ) {
                    e.params.retain(|p| {
                        !matches!(
                            p.name,
                            ICalendarParameterName::Partstat
                                | ICalendarParameterName::Rsvp
                                | ICalendarParameterName::ScheduleStatus
                                | ICalendarParameterName::ScheduleAgent
                                | ICalendarParameterName::ScheduleForceSend
                        )
                    });
                }
                let mut s = String::new();
                let _ = e.write_to(&mut s);
                s
            })
            .collect();
        lines.sort();
        out.insert(key_of(c), lines);
    }
    out
}

/// The messages the organizer `me` owes after its object went from `old` to `new`.
pub fn organizer_messages(
    old: Option<&ICalendar>,
    new: Option<&ICalendar>,
    me: &str,
    now: i64,
) -> Vec<Message> {
    let Some(uid) = new.or(old).and_then(uid) else {
        return Vec::new();
    };
    let changed = match (old, new) {
        (Some(a), Some(b)) => material(a, b),
        _ => true,
    };
    let before = old.map(attendees).unwrap_or_default();
    let after = new.map(attendees).unwrap_or_default();
    let mut out = Vec::new();
    if let Some(new) = new {
        for (addr, (att, keys)) in &after {
            if addr == me || !att.server {
                continue;
            }
            let added = before
                .get(addr)
                .is_none_or(|(_, old_keys)| !keys.is_subset(old_keys));
            if changed || added || att.force_request {
                out.push(Message {
                    method: Method::Request,
                    recipient: addr.clone(),
                    sender: me.to_string(),
                    uid: uid.clone(),
                    calendar: message(new, Method::Request, keys, now, None),
                });
            }
        }
    }
    let source = old.or(new).expect("one side exists");
    for (addr, (att, keys)) in &before {
        if addr == me || !att.server {
            continue;
        }
        let removed: BTreeSet<Key> = match after.get(addr) {
            Some((_, now_keys)) if new.is_some() => keys.difference(now_keys).cloned().collect(),
            _ => keys.clone(),
        };
        if removed.is_empty() {
            continue;
        }
        out.push(Message {
            method: Method::Cancel,
            recipient: addr.clone(),
            sender: me.to_string(),
            uid: uid.clone(),
            calendar: message(source, Method::Cancel, &removed, now, None),
        });
    }
    out
}

/// The REPLY attendee `me` owes the organizer after its copy went from `old` to `new`
/// (`new` absent: the copy was deleted, a decline).
pub fn attendee_reply(
    old: Option<&ICalendar>,
    new: Option<&ICalendar>,
    me: &str,
    now: i64,
) -> Option<Message> {
    let source = new.or(old)?;
    let (org, server) = organizer(source)?;
    if !server || org == me {
        return None;
    }
    let uid = uid(source)?;
    let partstats = |cal: &ICalendar| -> BTreeMap<Key, String> {
        sched_components(cal)
            .into_iter()
            .filter_map(|(_, c)| {
                let a = c
                    .properties(&ICalendarProperty::Attendee)
                    .filter_map(attendee_of)
                    .find(|a| a.address == me)?;
                Some((key_of(c), a.partstat))
            })
            .collect()
    };
    let before = old.map(partstats).unwrap_or_default();
    let mut keys = BTreeSet::new();
    match new {
        Some(new) => {
            for (k, p) in partstats(new) {
                let was = before
                    .get(&k)
                    .or_else(|| before.get(&None))
                    .map(String::as_str)
                    .unwrap_or("NEEDS-ACTION");
                if was != p {
                    keys.insert(k);
                }
            }
        }
        None => {
            for (k, p) in &before {
                if p != "DECLINED" {
                    keys.insert(k.clone());
                }
            }
        }
    }
    if keys.is_empty() {
        return None;
    }
    let decline = new.is_none();
    let mut cal = message(source, Method::Reply, &keys, now, Some(me));
    if decline {
        set_partstat(&mut cal, me, ICalendarParticipationStatus::Declined);
    }
    Some(Message {
        method: Method::Reply,
        recipient: org,
        sender: me.to_string(),
        uid,
        calendar: cal,
    })
}

/// Properties a REPLY keeps of its component (RFC 5546 §3.2.3), besides the attendee.
const REPLY_KEEPS: &[ICalendarProperty] = &[
    ICalendarProperty::Uid,
    ICalendarProperty::RecurrenceId,
    ICalendarProperty::Sequence,
    ICalendarProperty::Organizer,
    ICalendarProperty::Dtstart,
    ICalendarProperty::Dtend,
    ICalendarProperty::Due,
    ICalendarProperty::Duration,
    ICalendarProperty::Summary,
];

/// A message of `method` holding the components of `src` whose key is in `keys`
/// (`reply_as`: a REPLY of that attendee only).
fn message(
    src: &ICalendar,
    method: Method,
    keys: &BTreeSet<Key>,
    now: i64,
    reply_as: Option<&str>,
) -> ICalendar {
    let mut root = ICalendarComponent::new(ICalendarComponentType::VCalendar);
    root.add_property(ICalendarProperty::Method, method.value());
    root.add_property(ICalendarProperty::Prodid, PRODID.to_string());
    root.add_property(ICalendarProperty::Version, "2.0".to_string());
    let mut cal = ICalendar {
        components: vec![root],
    };
    for (_, c) in sched_components(src) {
        if !keys.contains(&key_of(c)) {
            continue;
        }
        let mut comp = ICalendarComponent::new(c.component_type.clone());
        for e in &c.entries {
            if e.name == ICalendarProperty::Dtstamp {
                continue;
            }
            if let Some(me) = reply_as {
                let mine = e.name == ICalendarProperty::Attendee
                    && entry_address(e).as_deref() == Some(me);
                if !mine && !REPLY_KEEPS.contains(&e.name) {
                    continue;
                }
            }
            let mut e = e.clone();
            if matches!(
                e.name,
                ICalendarProperty::Attendee | ICalendarProperty::Organizer
            ) {
                e.params.retain(|p| {
                    !matches!(
                        p.name,
                        ICalendarParameterName::ScheduleStatus
                            | ICalendarParameterName::ScheduleAgent
                            | ICalendarParameterName::ScheduleForceSend
                    )
                });
            }
            comp.entries.push(e);
        }
        comp.add_dtstamp(PartialDateTime::from_utc_timestamp(now));
        if method == Method::Cancel {
            let seq = c
                .property(&ICalendarProperty::Sequence)
                .and_then(|e| e.values.first())
                .and_then(|v| v.as_integer())
                .unwrap_or(0);
            comp.entries.retain(|e| {
                !matches!(
                    e.name,
                    ICalendarProperty::Sequence | ICalendarProperty::Status
                )
            });
            comp.add_sequence(seq + 1);
            comp.add_property(ICalendarProperty::Status, ICalendarStatus::Cancelled);
        }
        let id = cal.components.len() as u32;
        cal.components.push(comp);
        cal.components[0].component_ids.push(id);
    }
    if reply_as.is_none() {
        cal.copy_timezones(src);
    }
    cal
}

fn set_partstat(cal: &mut ICalendar, who: &str, value: ICalendarParticipationStatus) -> bool {
    let mut found = false;
    for c in cal.components.iter_mut() {
        if !matches!(
            c.component_type,
            ICalendarComponentType::VEvent | ICalendarComponentType::VTodo
        ) {
            continue;
        }
        for e in c.entries.iter_mut() {
            if e.name == ICalendarProperty::Attendee && entry_address(e).as_deref() == Some(who) {
                e.params
                    .retain(|p| p.name != ICalendarParameterName::Partstat);
                e.params.push(ICalendarParameter::partstat(value.clone()));
                found = true;
            }
        }
    }
    found
}

/// Sets SCHEDULE-STATUS (RFC 6638 §7.3) on the ATTENDEE properties of the addresses in
/// `statuses` (address → `1.2`, `3.7`, …). Whether anything changed.
pub fn set_schedule_status(cal: &mut ICalendar, statuses: &BTreeMap<String, String>) -> bool {
    let mut changed = false;
    for c in cal.components.iter_mut() {
        for e in c.entries.iter_mut() {
            if e.name != ICalendarProperty::Attendee {
                continue;
            }
            let Some(status) = entry_address(e).and_then(|a| statuses.get(&a)) else {
                continue;
            };
            let current = param_text(e, &ICalendarParameterName::ScheduleStatus);
            if current.as_deref() == Some(status.as_str()) {
                continue;
            }
            e.params
                .retain(|p| p.name != ICalendarParameterName::ScheduleStatus);
            e.params
                .push(ICalendarParameter::schedule_status(status.clone()));
            changed = true;
        }
    }
    changed
}

/// Why an incoming message changes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The REPLY names no single attendee, or one that is not on the organizer's copy.
    NotInvited(String),
    /// The message is not of the object's organizer, or for another UID.
    Mismatch(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotInvited(w) => write!(f, "not invited: {w}"),
            Refusal::Mismatch(w) => write!(f, "does not match: {w}"),
        }
    }
}

/// The attendee a REPLY is from: its components must name exactly one, the same in each.
pub fn reply_attendee(reply: &ICalendar) -> Result<Attendee, Refusal> {
    let mut who: Option<Attendee> = None;
    for (_, c) in sched_components(reply) {
        let list: Vec<Attendee> = c
            .properties(&ICalendarProperty::Attendee)
            .filter_map(attendee_of)
            .collect();
        if list.len() != 1 {
            return Err(Refusal::NotInvited(
                "a REPLY names exactly one attendee".into(),
            ));
        }
        match &who {
            Some(w) if w.address != list[0].address => {
                return Err(Refusal::NotInvited("a REPLY from two attendees".into()))
            }
            _ => who = Some(list[0].clone()),
        }
    }
    who.ok_or_else(|| Refusal::NotInvited("a REPLY without a component".into()))
}

/// The organizer's copy with the replying attendee's PARTSTAT taken from `reply` (component
/// by component; an instance the copy does not override updates the master).
pub fn apply_reply(copy: &ICalendar, reply: &ICalendar) -> Result<ICalendar, Refusal> {
    let who = reply_attendee(reply)?;
    if uid(copy) != uid(reply) {
        return Err(Refusal::Mismatch("another UID".into()));
    }
    if !attendees(copy).contains_key(&who.address) {
        return Err(Refusal::NotInvited(who.address));
    }
    let mut out = copy.clone();
    let keys: BTreeMap<Key, usize> = sched_components(copy)
        .into_iter()
        .map(|(i, c)| (key_of(c), i))
        .collect();
    for (_, rc) in sched_components(reply) {
        let Some(a) = rc
            .properties(&ICalendarProperty::Attendee)
            .filter_map(attendee_of)
            .next()
        else {
            continue;
        };
        let Some(&idx) = keys.get(&key_of(rc)).or_else(|| keys.get(&None)) else {
            continue;
        };
        for e in out.components[idx].entries.iter_mut() {
            if e.name == ICalendarProperty::Attendee
                && entry_address(e).as_deref() == Some(a.address.as_str())
            {
                e.params.retain(|p| {
                    !matches!(
                        p.name,
                        ICalendarParameterName::Partstat | ICalendarParameterName::ScheduleStatus
                    )
                });
                e.params.push(ICalendarParameter::new(
                    ICalendarParameterName::Partstat,
                    ICalendarParameterValue::Text(a.partstat.clone()),
                ));
                e.params
                    .push(ICalendarParameter::schedule_status("2.0".to_string()));
            }
        }
    }
    Ok(out)
}

/// The attendee's copy with what `cancel` cancels marked STATUS:CANCELLED: the whole object
/// when it cancels the master, else those instances (added as cancelled overrides when the
/// copy had none for them).
pub fn apply_cancel(copy: &ICalendar, cancel: &ICalendar) -> Result<ICalendar, Refusal> {
    if uid(copy) != uid(cancel) {
        return Err(Refusal::Mismatch("another UID".into()));
    }
    let mut out = copy.clone();
    let cancelled: Vec<(Key, usize)> = sched_components(cancel)
        .into_iter()
        .map(|(i, c)| (key_of(c), i))
        .collect();
    let whole = cancelled.iter().any(|(k, _)| k.is_none());
    let existing: BTreeMap<Key, usize> = sched_components(copy)
        .into_iter()
        .map(|(i, c)| (key_of(c), i))
        .collect();
    let targets: Vec<usize> = if whole {
        existing.values().copied().collect()
    } else {
        let mut t = Vec::new();
        for (k, ci) in &cancelled {
            match existing.get(k) {
                Some(i) => t.push(*i),
                None => {
                    let mut comp = cancel.components[*ci].clone();
                    comp.component_ids.clear();
                    let id = out.components.len() as u32;
                    out.components.push(comp);
                    out.components[0].component_ids.push(id);
                    t.push(id as usize);
                }
            }
        }
        t
    };
    for i in targets {
        let c = &mut out.components[i];
        c.entries.retain(|e| e.name != ICalendarProperty::Status);
        c.add_property(ICalendarProperty::Status, ICalendarStatus::Cancelled);
    }
    Ok(out)
}

/// The copy attendee `me` stores of a REQUEST: without METHOD, `me`'s PARTSTAT NEEDS-ACTION
/// where the organizer gave none. A REQUEST for some instances only (no master) goes into
/// `existing` (replacing those overrides) when there is one.
pub fn attendee_copy(request: &ICalendar, me: &str, existing: Option<&ICalendar>) -> ICalendar {
    let mut req = request.clone();
    if let Some(root) = req.components.first_mut() {
        root.entries.retain(|e| e.name != ICalendarProperty::Method);
    }
    for c in req.components.iter_mut() {
        for e in c.entries.iter_mut() {
            if e.name == ICalendarProperty::Attendee
                && entry_address(e).as_deref() == Some(me)
                && !e.has_parameter(&ICalendarParameterName::Partstat)
            {
                e.params.push(ICalendarParameter::partstat(
                    ICalendarParticipationStatus::NeedsAction,
                ));
            }
        }
    }
    let has_master = sched_components(&req)
        .iter()
        .any(|(_, c)| key_of(c).is_none());
    let Some(existing) = existing.filter(|_| !has_master) else {
        return req;
    };
    let mut out = existing.clone();
    for (ri, rc) in sched_components(&req) {
        let k = key_of(rc);
        let found = sched_components(&out)
            .into_iter()
            .find(|(_, c)| key_of(c) == k)
            .map(|(i, _)| i);
        let mut comp = req.components[ri].clone();
        comp.component_ids.clear();
        match found {
            Some(i) => out.components[i] = comp,
            None => {
                let id = out.components.len() as u32;
                out.components.push(comp);
                out.components[0].component_ids.push(id);
            }
        }
    }
    out
}

/// A component's SEQUENCE (0 when absent, RFC 5545 §3.8.7.4).
fn sequence(c: &ICalendarComponent) -> i64 {
    c.property(&ICalendarProperty::Sequence)
        .and_then(|e| e.values.first())
        .and_then(|v| match v {
            ICalendarValue::Integer(n) => Some(*n),
            _ => None,
        })
        .unwrap_or(0)
}

/// Whether `incoming` speaks of an older revision than the stored `copy` (RFC 5546
/// §2.1.5), so that applying it would undo a newer one: one of its instances has a lower
/// SEQUENCE than the same instance (or the master) in the copy. This holds for a REQUEST
/// or CANCEL arriving after a later REQUEST, and for a REPLY to a revision the organizer
/// has since changed. DTSTAMP is not compared: both sides rewrite it in their own copies,
/// so a stored one says nothing of the last message received.
pub fn stale(incoming: &ICalendar, copy: &ICalendar) -> bool {
    let stored: BTreeMap<Key, i64> = sched_components(copy)
        .into_iter()
        .map(|(_, c)| (key_of(c), sequence(c)))
        .collect();
    sched_components(incoming).into_iter().any(|(_, c)| {
        stored
            .get(&key_of(c))
            .or_else(|| stored.get(&None))
            .is_some_and(|&have| sequence(c) < have)
    })
}

/// Whether `cal`'s components (those of the VCALENDAR) are all VEVENT or VTODO besides
/// VTIMEZONE: the objects scheduling handles.
pub fn schedulable(cal: &ICalendar) -> bool {
    let all: Vec<_> = top_level(cal)
        .filter(|c| c.component_type != ICalendarComponentType::VTimezone)
        .collect();
    !all.is_empty()
        && all.iter().all(|c| {
            matches!(
                c.component_type,
                ICalendarComponentType::VEvent | ICalendarComponentType::VTodo
            )
        })
}
