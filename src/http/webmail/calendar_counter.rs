//! New times proposed and answered in the webmail (iTIP COUNTER, RFC 5546 §3.2.7;
//! `protocols::itip::counter`), and the current version asked for (REFRESH, §3.2.6),
//! from the event page (`POST /calendar/event`):
//!
//! - `action=counter` (an attendee of an invitation, with `p_start_date`, `p_start_time`,
//!   `p_end_date`, `p_end_time`): a COUNTER with the copy's start and end moved goes to the
//!   organizer; nothing is stored here (the organizer's answer, a REQUEST or a
//!   DECLINECOUNTER, changes the copy or not).
//! - `action=refresh` (an attendee): a REFRESH goes to the organizer (its schedule inbox
//!   when local, iMIP through the queues when not), which answers with a REQUEST of the
//!   current event.
//! - The organizer sees every COUNTER waiting in its schedule inbox (one per attendee,
//!   `scheduling::deliver::pending_counters`) on the event page: who proposes what (the
//!   times, and the title, place and description where they differ), each with its own
//!   accept and decline (`proposal`: the inbox object's name, `proposal_etag`: its ETag as
//!   shown, so a proposal replaced meanwhile is not answered unseen). A COUNTER made for
//!   an earlier version (its SEQUENCE older than the event's, after another accept or an
//!   edit) is shown "for an earlier version" and may only be declined.
//!   `action=counter-accept` stores the event with what the COUNTER proposes (SEQUENCE
//!   raised, `If-Match` the page's ETag), which sends a REQUEST to every attendee
//!   (`scheduling::after_write`); `action=counter-decline` sends the proposer a
//!   DECLINECOUNTER. Either way that COUNTER leaves the inbox (a conditional delete); the
//!   other attendees' proposals stay, neither accepted nor declined.
//! - The attendee's page shows a DECLINECOUNTER of the organizer (`declined_counter`,
//!   by mail or local) until the next REQUEST replaces it in the inbox, or the attendee
//!   proposes again from this page (the DECLINECOUNTER then leaves its inbox).
//!
//! The rights are those of any change to the event (`w`+`i` on a shared calendar),
//! decided by the caller before this runs; the caller makes the write ([`Step`]).

use chrono_tz::Tz;

use super::calendar_ical::{read_event, with_times};
use super::shared::store_err;
use super::MailError;
use crate::actors::imap_backend::StoreBackend;
use crate::mailauth::sender::{may_send_as, Verdict};
use crate::protocols::caldav::validate::parse_calendar;
use crate::protocols::itip::{self, counter, Message};
use crate::scheduling::deliver::{declined_counter, declined_counter_held, pending_counters};
use crate::storage::davstore::{Condition, DavCollection, DavObject};

/// A COUNTER waiting for the organizer's answer, as the event page shows it.
pub struct Proposal {
    /// The attendee who proposes.
    pub from: String,
    /// `YYYY-MM-DD HH:MM – YYYY-MM-DD HH:MM` in the user's zone (dates only all day).
    pub when: String,
    /// The title, place and description proposed, where they differ from the event's.
    pub title: Option<String>,
    pub location: Option<String>,
    pub description: Option<String>,
    /// Made for an earlier version of the event (its SEQUENCE older than the event's,
    /// `itip::stale`): shown as such, and it may only be declined.
    pub stale: bool,
    /// The inbox object (name, ETag) the accept and decline buttons name.
    pub name: String,
    pub etag: String,
}

/// The organizer's DECLINECOUNTER as the attendee's event page shows it.
pub struct Declined {
    pub by: String,
    /// When it arrived, `YYYY-MM-DD HH:MM` in the user's zone (empty: unknown).
    pub when: String,
}

/// The times an attendee's form proposes (`p_*` fields).
pub(super) struct Proposed {
    pub start_date: String,
    pub start_time: String,
    pub end_date: String,
    pub end_time: String,
}

fn span(f: &super::calendar_ical::EventFields) -> String {
    if f.all_day {
        if f.start_date == f.end_date {
            f.start_date.clone()
        } else {
            format!("{} – {}", f.start_date, f.end_date)
        }
    } else {
        format!(
            "{} {} – {} {}",
            f.start_date, f.start_time, f.end_date, f.end_time
        )
    }
}

/// The COUNTERs of event `event` (its data) waiting in `owner`'s schedule inbox, one per
/// proposing attendee, shown in `zone`.
pub(super) fn proposals_for(
    b: &StoreBackend,
    owner: &str,
    uid: &str,
    event: &str,
    zone: Tz,
) -> Vec<Proposal> {
    let Ok(Some((_, waiting))) = pending_counters(&b.ctx.store, owner, uid) else {
        return Vec::new();
    };
    let current = read_event(event, owner, zone).ok().map(|(f, _)| f);
    let copy = parse_calendar(event).ok();
    let differs = |proposed: &str, now: Option<&str>| {
        (!proposed.is_empty() && Some(proposed) != now).then(|| proposed.to_string())
    };
    waiting
        .into_iter()
        .filter_map(|(o, cal)| {
            let from = itip::reply_attendee(&cal).ok()?.address;
            let (f, _) = read_event(&cal.to_string(), owner, zone).ok()?;
            let cur = current.as_ref();
            Some(Proposal {
                from,
                when: span(&f),
                title: differs(&f.title, cur.map(|c| c.title.as_str())),
                location: differs(&f.location, cur.map(|c| c.location.as_str())),
                description: differs(&f.description, cur.map(|c| c.description.as_str())),
                stale: copy.as_ref().is_some_and(|c| itip::stale(&cal, c)),
                name: o.name,
                etag: o.etag,
            })
        })
        .collect()
}

/// The organizer's DECLINECOUNTER of `uid` in `account`'s schedule inbox, if one is there.
pub(super) fn declined_for(
    b: &StoreBackend,
    account: &str,
    uid: &str,
    zone: Tz,
) -> Option<Declined> {
    let (cal, modified) = declined_counter(&b.ctx.store, account, uid).ok()??;
    let by = itip::organizer(&cal).map(|o| o.0).unwrap_or_default();
    let when = {
        use chrono::TimeZone;
        (modified > 0)
            .then(|| zone.timestamp_opt(modified, 0).single())
            .flatten()
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    Some(Declined { by, when })
}

/// A COUNTER answered (or a DECLINECOUNTER made old by a new proposal), to drop from the
/// schedule inbox once the answer is made.
pub(super) struct Answered {
    inbox: u64,
    name: String,
    etag: String,
}

impl Answered {
    /// Out of the inbox (unless a newer message replaced it meanwhile: If-Match).
    pub(super) fn forget(self, b: &StoreBackend) -> Result<(), MailError> {
        b.ctx
            .store
            .dav_delete(self.inbox, &self.name, &Condition::Match(self.etag))
            .map_err(store_err)?;
        b.ctx.store.commit().map_err(store_err)
    }
}

/// What a COUNTER action comes to; the event page's handler carries it out.
pub(super) enum Step {
    /// Store `data` over the event (If-Match the page's ETag), then forget the COUNTER;
    /// back to the calendar on `date` with `flash`.
    Store {
        data: String,
        date: String,
        flash: String,
        answered: Answered,
    },
    /// Deliver `message` (and forget the COUNTER it answers, if any).
    Send {
        flash: String,
        date: String,
        message: Box<Message>,
        answered: Option<Answered>,
    },
}

/// One of the COUNTER and REFRESH actions on event `o` of `coll` (its ETag already
/// checked) by `who` (the address the account acts as in this calendar); `chosen` is the
/// (name, ETag) of the inbox COUNTER an accept or decline answers.
#[allow(clippy::too_many_arguments)]
pub(super) fn counter_action(
    b: &StoreBackend,
    coll: &DavCollection,
    o: &DavObject,
    action: &str,
    who: &str,
    zone: Tz,
    now: i64,
    p: &Proposed,
    chosen: (&str, &str),
) -> Result<Step, MailError> {
    let (fields, facts) = read_event(&o.data, who, zone)?;
    match action {
        "counter" => {
            if facts.my_partstat.is_none() {
                return Err(MailError::Invalid(
                    "only an attendee of someone else's event proposes a new time".into(),
                ));
            }
            let mut f = fields;
            f.start_date = p.start_date.clone();
            f.start_time = p.start_time.clone();
            f.end_date = if p.end_date.trim().is_empty() {
                p.start_date.clone()
            } else {
                p.end_date.clone()
            };
            f.end_time = p.end_time.clone();
            let proposed = with_times(&o.data, &f, zone)?;
            let msg = counter::counter(&proposed, who, now).ok_or_else(|| {
                MailError::Invalid("you are not an attendee of this event".into())
            })?;
            // The organizer's DECLINECOUNTER of an earlier proposal is old news now.
            let declined = declined_counter_held(&b.ctx.store, &coll.owner, &o.uid)
                .ok()
                .flatten()
                .map(|(inbox, d)| Answered {
                    inbox: inbox.id,
                    name: d.name,
                    etag: d.etag,
                });
            Ok(Step::Send {
                flash: format!("Your proposal is sent to {}.", msg.recipient),
                date: f.start_date,
                message: Box::new(msg),
                answered: declined,
            })
        }
        "refresh" => {
            if facts.my_partstat.is_none() {
                return Err(MailError::Invalid(
                    "only an attendee of someone else's event asks its organizer".into(),
                ));
            }
            let copy = parse_calendar(&o.data).map_err(|e| MailError::Invalid(e.to_string()))?;
            let msg = counter::refresh(&copy, who, now)
                .ok_or_else(|| MailError::Invalid("this event has no organizer".into()))?;
            Ok(Step::Send {
                flash: format!("{} is asked for the current version.", msg.recipient),
                date: fields.start_date,
                message: Box::new(msg),
                answered: None,
            })
        }
        "counter-accept" | "counter-decline" => {
            let (inbox, waiting) = pending_counters(&b.ctx.store, &coll.owner, &o.uid)
                .map_err(|e| {
                    tracing::warn!("webmail: the schedule inbox: {e}");
                    MailError::Unavailable
                })?
                .ok_or_else(|| MailError::Invalid("no proposal is waiting for an answer".into()))?;
            let (waiting, proposal) = waiting
                .into_iter()
                .find(|(w, _)| w.name == chosen.0)
                .ok_or_else(|| MailError::Invalid("no such proposal is waiting".into()))?;
            if waiting.etag != chosen.1 {
                return Err(MailError::Invalid(
                    "this proposal was replaced by a newer one since the page was shown: \
                     reopen the event to see it"
                        .into(),
                ));
            }
            let answered = Answered {
                inbox: inbox.id,
                name: waiting.name,
                etag: waiting.etag,
            };
            let copy = parse_calendar(&o.data).map_err(|e| MailError::Invalid(e.to_string()))?;
            if action == "counter-accept" {
                if itip::stale(&proposal, &copy) {
                    return Err(MailError::Invalid(
                        "this proposal was made for an earlier version of the event: it may \
                         only be declined"
                            .into(),
                    ));
                }
                let accepted = counter::accept_counter(&copy, &proposal)
                    .map_err(|e| MailError::Invalid(e.to_string()))?;
                let data = accepted.to_string();
                let date = read_event(&data, who, zone)
                    .map(|(f, _)| f.start_date)
                    .unwrap_or(fields.start_date);
                Ok(Step::Store {
                    data,
                    date,
                    flash: "The proposal is accepted; every attendee is sent the change.".into(),
                    answered,
                })
            } else {
                let proposer = itip::reply_attendee(&proposal)
                    .map_err(|e| MailError::Invalid(e.to_string()))?
                    .address;
                // Sent as the event's organizer (the account's own address or an alias
                // of it, a list alias too), not as whatever address the account logs in as.
                // The copy is the account's to edit, ORGANIZER included: the address is used
                // only if the calendar's owner may send as it (as SMTP submission decides).
                let organizer = itip::organizer(&copy).map(|o| o.0);
                let me = organizer.as_deref().unwrap_or(who);
                match may_send_as(&b.ctx.store, &coll.owner, me).map_err(store_err)? {
                    Verdict::Allowed => {}
                    Verdict::Refused(_) => {
                        return Err(MailError::Forbidden(
                            "the event's organizer is not an address this account may send as",
                        ))
                    }
                }
                let msg = counter::decline_counter(&copy, &proposal, me, &proposer, now)
                    .ok_or_else(|| {
                        MailError::Invalid("the proposal names no instance of this event".into())
                    })?;
                Ok(Step::Send {
                    flash: format!("The proposal is declined; {proposer} is told."),
                    date: fields.start_date,
                    message: Box::new(msg),
                    answered: Some(answered),
                })
            }
        }
        other => Err(MailError::Invalid(format!("unknown action {other:?}"))),
    }
}
