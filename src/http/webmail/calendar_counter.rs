//! New times proposed and answered in the webmail (iTIP COUNTER, RFC 5546 §3.2.7;
//! `protocols::itip::counter`), from the event page (`POST /calendar/event`):
//!
//! - `action=counter` (an attendee of an invitation, with `p_start_date`, `p_start_time`,
//!   `p_end_date`, `p_end_time`): a COUNTER with the copy's start and end moved goes to the
//!   organizer; nothing is stored here (the organizer's answer, a REQUEST or a
//!   DECLINECOUNTER, changes the copy or not).
//! - The organizer sees the COUNTER waiting in its schedule inbox (where scheduling keeps
//!   it, `scheduling::deliver::pending_counter`) on the event page: who proposes which
//!   time. `action=counter-accept` stores the event with the proposed times (SEQUENCE
//!   raised, `If-Match` the page's ETag), which sends a REQUEST to every attendee
//!   (`scheduling::after_write`); `action=counter-decline` sends the proposer a
//!   DECLINECOUNTER. Either way the COUNTER leaves the inbox (a conditional delete).
//!
//! The rights are those of any change to the event (`w`+`i` on a shared calendar),
//! decided by the caller before this runs; the caller makes the write ([`Step`]).

use chrono_tz::Tz;

use super::calendar_ical::{read_event, with_times};
use super::shared::store_err;
use super::MailError;
use crate::actors::imap_backend::StoreBackend;
use crate::protocols::caldav::validate::parse_calendar;
use crate::protocols::itip::{self, counter, Message};
use crate::scheduling::deliver::pending_counter;
use crate::storage::davstore::{Condition, DavCollection, DavObject};

/// A COUNTER waiting for the organizer's answer, as the event page shows it.
pub struct Proposal {
    /// The attendee who proposes.
    pub from: String,
    /// `YYYY-MM-DD HH:MM – YYYY-MM-DD HH:MM` in the user's zone (dates only all day).
    pub when: String,
}

/// The times an attendee's form proposes (`p_*` fields).
pub(super) struct Proposed {
    pub start_date: String,
    pub start_time: String,
    pub end_date: String,
    pub end_time: String,
}

/// The COUNTER of `uid` waiting in `owner`'s schedule inbox, shown in `zone`.
pub(super) fn proposal_for(b: &StoreBackend, owner: &str, uid: &str, zone: Tz) -> Option<Proposal> {
    let (_, _, cal) = pending_counter(&b.ctx.store, owner, uid).ok()??;
    let from = itip::reply_attendee(&cal).ok()?.address;
    let (f, _) = read_event(&cal.to_string(), owner, zone).ok()?;
    let when = if f.all_day {
        if f.start_date == f.end_date {
            f.start_date
        } else {
            format!("{} – {}", f.start_date, f.end_date)
        }
    } else {
        format!(
            "{} {} – {} {}",
            f.start_date, f.start_time, f.end_date, f.end_time
        )
    };
    Some(Proposal { from, when })
}

/// A COUNTER answered, to drop from the schedule inbox once the answer is made.
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

/// One of the COUNTER actions on event `o` of `coll` (its ETag already checked) by `who`
/// (the address the account acts as in this calendar).
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
            Ok(Step::Send {
                flash: format!("Your proposal is sent to {}.", msg.recipient),
                date: f.start_date,
                message: Box::new(msg),
                answered: None,
            })
        }
        "counter-accept" | "counter-decline" => {
            let (inbox, waiting, proposal) = pending_counter(&b.ctx.store, &coll.owner, &o.uid)
                .map_err(|e| {
                    tracing::warn!("webmail: the schedule inbox: {e}");
                    MailError::Unavailable
                })?
                .ok_or_else(|| MailError::Invalid("no proposal is waiting for an answer".into()))?;
            let answered = Answered {
                inbox: inbox.id,
                name: waiting.name,
                etag: waiting.etag,
            };
            let copy = parse_calendar(&o.data).map_err(|e| MailError::Invalid(e.to_string()))?;
            if action == "counter-accept" {
                let accepted = counter::accept_counter(&copy, &proposal)
                    .map_err(|e| MailError::Invalid(e.to_string()))?;
                let data = accepted.to_string();
                let date = read_event(&data, who, zone)
                    .map(|(f, _)| f.start_date)
                    .unwrap_or(fields.start_date);
                Ok(Step::Store {
                    data,
                    date,
                    flash: "The proposed time is accepted; every attendee is sent the change."
                        .into(),
                    answered,
                })
            } else {
                let proposer = itip::reply_attendee(&proposal)
                    .map_err(|e| MailError::Invalid(e.to_string()))?
                    .address;
                let msg = counter::decline_counter(&copy, &proposal, who, &proposer, now)
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
