//! COUNTER, DECLINECOUNTER and REFRESH (RFC 5546 §3.2.7, §3.2.8, §3.2.6), without I/O.
//!
//! - An attendee proposes a new time with [`counter`]: the whole proposed event (the
//!   copy with its new DTSTART/DTEND, the same SEQUENCE) to the organizer.
//! - The organizer's server checks an incoming COUNTER or REFRESH with [`from_attendee`]:
//!   its sender must be an attendee of the organizer's copy (of the same UID).
//! - Accepting a COUNTER ([`accept_counter`]) takes its times (DTSTART, DTEND, DURATION,
//!   DUE) and, where the COUNTER has them, LOCATION, SUMMARY and DESCRIPTION into the
//!   organizer's copy (nothing else: attendees, RRULE, alarms stay the organizer's), master by master and instance by instance, and raises
//!   SEQUENCE: the organizer's write then sends a REQUEST to every attendee, as any
//!   material change does ([`super::organizer_messages`]).
//! - Declining it ([`decline_counter`]) sends DECLINECOUNTER to the proposer: UID,
//!   ORGANIZER, SEQUENCE, RECURRENCE-ID of the countered components and the proposer as
//!   ATTENDEE.
//! - A REFRESH is answered by [`refresh_answer`]: a REQUEST of the current event to that
//!   attendee, with the components that name it.

use std::collections::BTreeSet;

use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarProperty,
};

use super::{
    attendees, key_of, message, organizer, sched_components, sequence, uid, Key, Message, Method,
    Refusal, PRODID,
};

/// The time properties a COUNTER may change in the organizer's copy: all of them are
/// replaced by the proposal's (DTEND and DURATION exclude each other).
const TIMES: &[ICalendarProperty] = &[
    ICalendarProperty::Dtstart,
    ICalendarProperty::Dtend,
    ICalendarProperty::Duration,
    ICalendarProperty::Due,
];

/// The other properties an accepted COUNTER changes, each only when the COUNTER has it
/// (RFC 5546 §3.2.7: a COUNTER may propose a new location or description too).
pub const TEXTS: &[ICalendarProperty] = &[
    ICalendarProperty::Location,
    ICalendarProperty::Summary,
    ICalendarProperty::Description,
];

/// The COUNTER attendee `me` sends the organizer of `proposed` (the attendee's copy with
/// the times it proposes). `None` when `me` is not an attendee or the event has no
/// organizer (or is its own).
pub fn counter(proposed: &ICalendar, me: &str, now: i64) -> Option<Message> {
    let (org, _) = organizer(proposed)?;
    let listed = attendees(proposed);
    let (_, keys) = listed.get(me)?;
    if org == me {
        return None;
    }
    Some(Message {
        method: Method::Counter,
        recipient: org,
        sender: me.to_string(),
        uid: uid(proposed)?,
        calendar: message(proposed, Method::Counter, keys, now, None),
    })
}

/// The RECURRENCE-IDs of the instances `counter` proposes for (none for the master), in
/// order, as the schedule inbox's key tells proposals for two instances apart.
pub fn countered_instances(counter: &ICalendar) -> Vec<String> {
    let mut ids: Vec<String> = sched_components(counter)
        .into_iter()
        .filter_map(|(_, c)| key_of(c))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Whether an incoming COUNTER or REFRESH from `sender` may act on the organizer's `copy`:
/// same UID, and `sender` is one of its attendees.
pub fn from_attendee(copy: &ICalendar, incoming: &ICalendar, sender: &str) -> Result<(), Refusal> {
    if uid(copy) != uid(incoming) {
        return Err(Refusal::Mismatch("another UID".into()));
    }
    if !attendees(copy).contains_key(sender) {
        return Err(Refusal::NotInvited(sender.to_string()));
    }
    Ok(())
}

/// `counter` as the organizer's schedule inbox keeps it: its only ATTENDEE the proposer
/// `sender` (a COUNTER may carry the whole attendee list), so that whoever reads the
/// inbox knows whose proposal it is ([`super::reply_attendee`] finds it).
pub fn for_inbox(counter: &ICalendar, sender: &str) -> ICalendar {
    let mut out = counter.clone();
    for c in out.components.iter_mut() {
        c.entries.retain(|e| {
            e.name != ICalendarProperty::Attendee
                || super::entry_address(e).as_deref() == Some(sender)
        });
    }
    out
}

/// The organizer's copy with the times `counter` proposes (and its LOCATION, SUMMARY and
/// DESCRIPTION where it has them, not empty, and only when the COUNTER's SEQUENCE is the
/// copy's: a stale proposal, see [`super::stale`], never puts back older texts), SEQUENCE
/// raised by one on each changed component. Components the COUNTER names that the copy does not have are left
/// out (an organizer accepts changes to its event, not new instances).
pub fn accept_counter(copy: &ICalendar, counter: &ICalendar) -> Result<ICalendar, Refusal> {
    if uid(copy) != uid(counter) {
        return Err(Refusal::Mismatch("another UID".into()));
    }
    let mut out = copy.clone();
    let targets: Vec<(Key, usize)> = sched_components(copy)
        .into_iter()
        .map(|(i, c)| (key_of(c), i))
        .collect();
    let mut changed = false;
    for (_, pc) in sched_components(counter) {
        let k = key_of(pc);
        let Some(&(_, idx)) = targets.iter().find(|(tk, _)| *tk == k) else {
            continue;
        };
        // The title, place and description only from a COUNTER of this very revision: one
        // built on an older SEQUENCE would put back what the organizer changed since. An
        // empty value never wipes the organizer's.
        let same_revision = sequence(pc) == sequence(&copy.components[idx]);
        let proposed: Vec<ICalendarEntry> = pc
            .entries
            .iter()
            .filter(|e| {
                TIMES.contains(&e.name)
                    || (same_revision && TEXTS.contains(&e.name) && !text_is_empty(e))
            })
            .cloned()
            .collect();
        if !proposed
            .iter()
            .any(|e| e.name == ICalendarProperty::Dtstart)
        {
            continue;
        }
        let texts: Vec<&ICalendarProperty> = proposed
            .iter()
            .filter(|e| TEXTS.contains(&e.name))
            .map(|e| &e.name)
            .collect();
        let c = &mut out.components[idx];
        let seq = sequence(c);
        c.entries.retain(|e| {
            !TIMES.contains(&e.name)
                && !texts.contains(&&e.name)
                && e.name != ICalendarProperty::Sequence
        });
        c.entries.extend(proposed);
        c.add_sequence(seq + 1);
        changed = true;
    }
    if !changed {
        return Err(Refusal::Mismatch(
            "the COUNTER proposes no start for this event".into(),
        ));
    }
    // Time zones the proposal names that the copy lacks.
    let have: BTreeSet<String> = tzids(&out);
    let mut extra = ICalendar {
        components: vec![ICalendarComponent::new(ICalendarComponentType::VCalendar)],
    };
    for c in &counter.components {
        if c.component_type == ICalendarComponentType::VTimezone
            && tzid(c).is_some_and(|t| !have.contains(&t))
        {
            let id = extra.components.len() as u32;
            let mut tz = c.clone();
            let children: Vec<ICalendarComponent> = c
                .component_ids
                .iter()
                .filter_map(|i| counter.components.get(*i as usize).cloned())
                .collect();
            tz.component_ids.clear();
            extra.components.push(tz);
            extra.components[0].component_ids.push(id);
            for ch in children {
                let cid = extra.components.len() as u32;
                extra.components.push(ch);
                extra.components[id as usize].component_ids.push(cid);
            }
        }
    }
    if extra.components.len() > 1 {
        out.copy_timezones(&extra);
    }
    Ok(out)
}

/// Whether a text property has no text (no value, or only blanks).
fn text_is_empty(e: &ICalendarEntry) -> bool {
    !e.values
        .iter()
        .any(|v| v.as_text().is_some_and(|t| !t.trim().is_empty()))
}

fn tzid(c: &ICalendarComponent) -> Option<String> {
    c.property(&ICalendarProperty::Tzid)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_text())
        .map(str::to_string)
}

fn tzids(cal: &ICalendar) -> BTreeSet<String> {
    cal.components
        .iter()
        .filter(|c| c.component_type == ICalendarComponentType::VTimezone)
        .filter_map(tzid)
        .collect()
}

/// The DECLINECOUNTER the organizer `me` sends `proposer` for `counter` of its `copy`.
pub fn decline_counter(
    copy: &ICalendar,
    counter: &ICalendar,
    me: &str,
    proposer: &str,
    now: i64,
) -> Option<Message> {
    let the_uid = uid(copy)?;
    let mut root = ICalendarComponent::new(ICalendarComponentType::VCalendar);
    root.add_property(ICalendarProperty::Method, Method::DeclineCounter.value());
    root.add_property(ICalendarProperty::Prodid, PRODID.to_string());
    root.add_property(ICalendarProperty::Version, "2.0".to_string());
    let mut cal = ICalendar {
        components: vec![root],
    };
    let keep = [
        ICalendarProperty::Uid,
        ICalendarProperty::RecurrenceId,
        ICalendarProperty::Sequence,
        ICalendarProperty::Organizer,
    ];
    let countered: BTreeSet<Key> = sched_components(counter)
        .into_iter()
        .map(|(_, c)| key_of(c))
        .collect();
    for (_, c) in sched_components(copy) {
        if !countered.contains(&key_of(c)) {
            continue;
        }
        let mut comp = ICalendarComponent::new(c.component_type.clone());
        for e in &c.entries {
            if keep.contains(&e.name) {
                comp.entries.push(e.clone());
            }
            if e.name == ICalendarProperty::Attendee
                && super::entry_address(e).as_deref() == Some(proposer)
            {
                let mut e = e.clone();
                e.params.retain(|p| {
                    !matches!(
                        p.name,
                        calcard::icalendar::ICalendarParameterName::ScheduleStatus
                            | calcard::icalendar::ICalendarParameterName::ScheduleAgent
                            | calcard::icalendar::ICalendarParameterName::ScheduleForceSend
                    )
                });
                comp.entries.push(e);
            }
        }
        comp.add_dtstamp(PartialDateTime::from_utc_timestamp(now));
        let id = cal.components.len() as u32;
        cal.components.push(comp);
        cal.components[0].component_ids.push(id);
    }
    if cal.components.len() == 1 {
        return None;
    }
    Some(Message {
        method: Method::DeclineCounter,
        recipient: proposer.to_string(),
        sender: me.to_string(),
        uid: the_uid,
        calendar: cal,
    })
}

/// The REQUEST the organizer `me` sends `attendee` in answer to its REFRESH: the current
/// event's components that name it. `None` when it is not an attendee.
pub fn refresh_answer(copy: &ICalendar, me: &str, attendee: &str, now: i64) -> Option<Message> {
    let listed = attendees(copy);
    let (_, keys) = listed.get(attendee)?;
    Some(Message {
        method: Method::Request,
        recipient: attendee.to_string(),
        sender: me.to_string(),
        uid: uid(copy)?,
        calendar: message(copy, Method::Request, keys, now, None),
    })
}

/// The REFRESH attendee `me` sends the organizer of its `copy` (RFC 5546 §3.2.6: ATTENDEE,
/// DTSTAMP, ORGANIZER, UID, RECURRENCE-ID only).
pub fn refresh(copy: &ICalendar, me: &str, now: i64) -> Option<Message> {
    let (org, _) = organizer(copy)?;
    let the_uid = uid(copy)?;
    let master = sched_components(copy)
        .into_iter()
        .map(|(_, c)| c)
        .find(|c| key_of(c).is_none())
        .or_else(|| sched_components(copy).into_iter().map(|(_, c)| c).next())?;
    let mut root = ICalendarComponent::new(ICalendarComponentType::VCalendar);
    root.add_property(ICalendarProperty::Method, Method::Refresh.value());
    root.add_property(ICalendarProperty::Prodid, PRODID.to_string());
    root.add_property(ICalendarProperty::Version, "2.0".to_string());
    let mut comp = ICalendarComponent::new(master.component_type.clone());
    for e in &master.entries {
        let mine =
            e.name == ICalendarProperty::Attendee && super::entry_address(e).as_deref() == Some(me);
        if mine
            || matches!(
                e.name,
                ICalendarProperty::Uid | ICalendarProperty::Organizer
            )
        {
            comp.entries.push(e.clone());
        }
    }
    comp.add_dtstamp(PartialDateTime::from_utc_timestamp(now));
    root.component_ids.push(1);
    Some(Message {
        method: Method::Refresh,
        recipient: org,
        sender: me.to_string(),
        uid: the_uid,
        calendar: ICalendar {
            components: vec![root, comp],
        },
    })
}
