//! One event in the webmail: `GET /calendar/event?cal=&name=` (the form; without `name` a
//! new event, on `date`), `POST /calendar/event` (`action` save, delete, accept,
//! tentative or decline, with the CSRF token).
//!
//! Implementation notes:
//!
//! - Objects are reached only through the collections the caller may read
//!   (`super::shared::find`: its own, or shared with it or public), so other calendars
//!   and their events answer 404. In another's calendar the rights decide each post
//!   (`w`+`i` to save or answer, `t` to delete; 403 otherwise, nothing stored), and the
//!   caller acts as the owner (the organizer or attendee address is the owner's).
//! - `counter`, `counter-accept`, `counter-decline` and `refresh`:
//!   [`super::calendar_counter`].
//! - Every write is conditional: a new event `If-None-Match: *` (under a fresh UID), an
//!   edit, delete or reply `If-Match` the ETag the form was drawn with. When someone
//!   changed or removed the event meanwhile, the store refuses inside its atomic step and
//!   the page answers 409 with the form as submitted and a message; nothing is stored.
//! - What is stored passes `protocols::caldav::validate` as a CalDAV PUT would (the
//!   collection's components, `[http] dav_max_resource_size`), so the DAV side reads the
//!   same objects it would have accepted.
//! - Every successful write yields a [`Written`]; the handler runs scheduling on it
//!   (`crate::scheduling::after_write`: iTIP REQUEST / REPLY / CANCEL, RFC 6638) after the
//!   store work, awaiting it on the server's runtime (never from the blocking pool), and
//!   before the page answers.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::calendar::{enc, event_calendars, is_event_calendar, store_err};
use super::calendar_counter::{
    counter_action, declined_for, proposals_for, Declined, Proposal, Proposed, Step,
};
use super::calendar_ical::{
    edit_event, new_event, parse_attendees, partstat_of_action, read_event, set_partstat,
    EventFacts, EventFields, Repeat,
};
use super::login::field;
use super::shared::{self, Visible};
use super::{call, to_login, user, MailError};
use crate::actors::imap_backend::StoreBackend;
use crate::http::dashboard::{redirect_with, render, Chrome, Ctx};
use crate::protocols::caldav::validate::{validate_calendar, ComponentKind};
use crate::protocols::imap::backend::Backend;
use crate::storage::davstore::{
    CollectionKind, Condition, DavCollection, DavObject, DeleteOutcome, NewObject, PutOutcome,
};

/// A committed write of an event by the webmail (create, edit, delete, reply): `old` is
/// the object before (`None`: created), `new` after (`None`: deleted).
struct Written {
    coll: DavCollection,
    old: Option<DavObject>,
    new: Option<DavObject>,
}

#[derive(Template)]
#[template(path = "mail/event.html")]
struct EventPage {
    chrome: Chrome,
    css: String,
    cal_css: String,
    /// The collection and object names; `name` empty for a new event.
    cal: String,
    name: String,
    etag: String,
    /// (name, display name) of the calendars a new event can go to.
    calendars: Vec<(String, String)>,
    f: EventFields,
    attendees: String,
    facts: EventFacts,
    zone: String,
    error: String,
    back: String,
    /// The account may not change events in this calendar (a read-only share).
    read_only: bool,
    /// The account may delete events in this calendar.
    may_delete: bool,
    /// Whose calendar, when another's (empty: the account's own).
    owner: String,
    /// The attendees' COUNTERs waiting for the organizer's answer, one per attendee.
    proposals: Vec<Proposal>,
    /// The organizer declined the account's proposal (a DECLINECOUNTER, until the next
    /// REQUEST).
    declined: Option<Declined>,
}

impl EventPage {
    fn repeat_is(&self, r: &str) -> bool {
        self.f.repeat.as_str() == r
    }
}

fn q<'a>(m: &'a BTreeMap<String, String>, k: &str) -> &'a str {
    m.get(k).map(String::as_str).unwrap_or("")
}

/// The calendar `cal` names ([`shared::find`]'s key) when the account may read it.
fn calendar_of(b: &StoreBackend, me: &str, cal: &str) -> Result<Visible, MailError> {
    let v = shared::find(b, me, CollectionKind::Calendar, cal)?;
    if !is_event_calendar(&v.coll) {
        return Err(MailError::NotFound);
    }
    Ok(v)
}

fn blank(date: &str) -> EventFields {
    EventFields {
        title: String::new(),
        all_day: false,
        start_date: date.to_string(),
        start_time: "09:00".into(),
        end_date: date.to_string(),
        end_time: "10:00".into(),
        location: String::new(),
        description: String::new(),
        repeat: Repeat::Never,
        attendees: Vec::new(),
    }
}

/// What the page needs besides the fields.
struct Frame {
    cal: String,
    name: String,
    etag: String,
    calendars: Vec<(String, String)>,
    facts: EventFacts,
    zone: String,
    read_only: bool,
    may_delete: bool,
    owner: String,
    proposals: Vec<Proposal>,
    declined: Option<Declined>,
}

fn page(
    req: &HttpRequest,
    me: String,
    fr: Frame,
    f: EventFields,
    error: String,
    status: StatusCode,
) -> HttpResponse {
    let mut chrome = Chrome::anonymous(req, "/calendar");
    chrome.who = me;
    let back = format!("/calendar?view=week&date={}", enc(&f.start_date));
    let t = EventPage {
        chrome,
        css: crate::http::dashboard::asset_url("mail.css"),
        cal_css: crate::http::dashboard::asset_url("calendar.css"),
        cal: fr.cal,
        name: fr.name,
        etag: fr.etag,
        calendars: fr.calendars,
        attendees: f.attendees.join(", "),
        f,
        facts: fr.facts,
        zone: fr.zone,
        error,
        back,
        read_only: fr.read_only,
        may_delete: fr.may_delete,
        owner: fr.owner,
        proposals: fr.proposals,
        declined: fr.declined,
    };
    let mut res = render(req, &t.chrome, &t);
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}

/// `GET /calendar/event?cal=&name=` (edit) or `?date=` (new).
pub async fn form(
    ctx: Ctx,
    req: HttpRequest,
    query: web::Query<BTreeMap<String, String>>,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let (cal, name, date) = (
        q(&query, "cal").to_string(),
        q(&query, "name").to_string(),
        q(&query, "date").to_string(),
    );
    let who = me.clone();
    let (fr, f) = call(&ctx, move |b| {
        let zone = super::prefs::load(b, &who)?.zone();
        // A new event goes to a calendar the account may add to.
        let calendars: Vec<(String, String)> = event_calendars(b, &who)?
            .into_iter()
            .filter(|v| v.may.write)
            .map(|v| (v.key(), v.display()))
            .collect();
        if name.is_empty() {
            let date = if chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").is_ok() {
                date
            } else {
                use chrono::TimeZone;
                zone.timestamp_opt(b.now(), 0)
                    .single()
                    .map(|t| t.format("%Y-%m-%d").to_string())
                    .unwrap_or_default()
            };
            let cal = if cal.is_empty() {
                calendars.first().map(|c| c.0.clone()).unwrap_or_default()
            } else {
                cal
            };
            let v = calendar_of(b, &who, &cal)?;
            let fr = Frame {
                cal,
                name: String::new(),
                etag: String::new(),
                calendars,
                facts: EventFacts::default(),
                zone: zone.name().to_string(),
                read_only: !v.may.write,
                may_delete: v.may.delete,
                owner: v.owner_label,
                proposals: Vec::new(),
                declined: None,
            };
            return Ok((fr, blank(&date)));
        }
        let v = calendar_of(b, &who, &cal)?;
        let obj = b
            .ctx
            .store
            .dav_get(v.coll.id, &name)
            .map_err(store_err)?
            .ok_or(MailError::NotFound)?;
        let (f, facts) = read_event(&obj.data, v.acting_as(&who), zone)?;
        let (proposals, declined) = if facts.my_partstat.is_none() {
            let p = if v.may.write {
                proposals_for(b, &v.coll.owner, &obj.uid, &obj.data, zone)
            } else {
                Vec::new()
            };
            (p, None)
        } else {
            (Vec::new(), declined_for(b, &v.coll.owner, &obj.uid, zone))
        };
        Ok((
            Frame {
                cal,
                name,
                etag: obj.etag,
                calendars,
                facts,
                zone: zone.name().to_string(),
                read_only: !v.may.write,
                may_delete: v.may.delete,
                owner: v.owner_label.clone(),
                proposals,
                declined,
            },
            f,
        ))
    })
    .await?;
    Ok(page(&req, me, fr, f, String::new(), StatusCode::OK))
}

/// The form as typed (nothing checked), to show again with a refusal.
fn raw_fields(body: &web::Bytes) -> EventFields {
    let fl = |n: &str| field(body, n);
    EventFields {
        title: fl("title"),
        all_day: !fl("all_day").is_empty(),
        start_date: fl("start_date"),
        start_time: fl("start_time"),
        end_date: fl("end_date"),
        end_time: fl("end_time"),
        location: fl("location"),
        description: fl("description"),
        repeat: Repeat::parse(&fl("repeat")).unwrap_or(Repeat::Never),
        attendees: fl("attendees")
            .split(',')
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect(),
    }
}

/// The form again with why it was refused (422); nothing was stored.
fn refused(
    req: &HttpRequest,
    me: String,
    (cal, name, etag): (String, String, String),
    f: EventFields,
    msg: String,
) -> HttpResponse {
    let fr = Frame {
        cal,
        name,
        etag,
        calendars: Vec::new(),
        facts: EventFacts::default(),
        zone: "your time zone".into(),
        read_only: false,
        may_delete: false,
        owner: String::new(),
        proposals: Vec::new(),
        declined: None,
    };
    page(req, me, fr, f, msg, StatusCode::UNPROCESSABLE_ENTITY)
}

/// The event fields of a submitted form.
fn submitted(body: &web::Bytes) -> Result<EventFields, MailError> {
    let fl = |n: &str| field(body, n);
    Ok(EventFields {
        title: fl("title"),
        all_day: !fl("all_day").is_empty(),
        start_date: fl("start_date"),
        start_time: fl("start_time"),
        end_date: fl("end_date"),
        end_time: fl("end_time"),
        location: fl("location"),
        description: fl("description"),
        repeat: Repeat::parse(&fl("repeat"))?,
        attendees: parse_attendees(&fl("attendees"))?,
    })
}

/// What a post did.
enum Done {
    /// Stored or deleted: back to the calendar on a date with this message; scheduling
    /// hears of the write.
    Ok(String, String, Box<Written>),
    /// The ETag no longer matched: the form again, with the current ETag and facts (and
    /// the current fields, shown when the post was no save).
    Conflict(Box<(Option<EventFields>, Frame)>),
    /// The account's rights on the calendar do not allow this (a share without "w"+"i"
    /// or "t"): 403, nothing stored.
    Refused(&'static str),
    /// A scheduling message to deliver (a COUNTER proposed, a DECLINECOUNTER), nothing
    /// stored: back to the calendar on a date with this message.
    Sent(String, String, Box<crate::protocols::itip::Message>),
}

fn put(
    b: &StoreBackend,
    coll: &DavCollection,
    name: &str,
    data: String,
    cond: Condition,
    old: Option<DavObject>,
) -> Result<Option<Written>, MailError> {
    let supported: Vec<ComponentKind> = coll
        .components
        .iter()
        .filter_map(|c| ComponentKind::parse(c))
        .collect();
    super::shared::not_locked(coll, name, old.is_none())?;
    let max = usize::try_from(b.ctx.config().http.dav_max_resource_size).unwrap_or(usize::MAX);
    let obj =
        validate_calendar(&data, &supported, max).map_err(|e| MailError::Invalid(e.to_string()))?;
    let new = NewObject {
        name: name.to_string(),
        uid: obj.uid,
        data,
        component: obj.kind.as_str().to_string(),
        first: obj.first,
        last: obj.last,
    };
    match b
        .ctx
        .store
        .dav_put(coll.id, &new, &cond)
        .map_err(store_err)?
    {
        PutOutcome::Stored { object, .. } => {
            b.ctx.store.commit().map_err(store_err)?;
            Ok(Some(Written {
                coll: coll.clone(),
                old,
                new: Some(object),
            }))
        }
        PutOutcome::PreconditionFailed => Ok(None),
        PutOutcome::UidConflict(other) => Err(MailError::Invalid(format!(
            "another event ({other}) already has this UID"
        ))),
    }
}

/// `POST /calendar/event`.
pub async fn submit(
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let action = field(&body, "action");
    let (cal, name, etag) = (
        field(&body, "cal"),
        field(&body, "name"),
        field(&body, "etag"),
    );
    // The form as typed, to show again with a refusal.
    let raw = raw_fields(&body);
    let form = if action == "save" {
        match submitted(&body) {
            Ok(f) => Some(f),
            Err(MailError::Invalid(msg)) => {
                return Ok(refused(&req, me, (cal, name, etag), raw, msg));
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    let who = me.clone();
    let f2 = form.clone();
    let (c2, n2, e2, a2) = (cal.clone(), name.clone(), etag.clone(), action.clone());
    // A proposed new time (the attendee's "Propose a new time").
    let p2 = (
        field(&body, "p_start_date"),
        field(&body, "p_start_time"),
        field(&body, "p_end_date"),
        field(&body, "p_end_time"),
        field(&body, "proposal"),
        field(&body, "proposal_etag"),
    );
    let done = call(&ctx, move |b| {
        let (cal, name, etag, action) = (c2, n2, e2, a2);
        let zone = super::prefs::load(b, &who)?.zone();
        let now = b.now();
        let v = calendar_of(b, &who, &cal)?;
        // Decided here, on the rights read now, whatever the form offered.
        let allowed = match action.as_str() {
            "delete" => v.may.delete,
            _ => v.may.write,
        };
        if !allowed {
            return Ok(Done::Refused(if action == "delete" {
                "You may not delete events in this calendar: it is shared with you without \
                 that right."
            } else {
                "You may not add or change events in this calendar: it is shared with you \
                 read-only."
            }));
        }
        let acting = v.acting_as(&who).to_string();
        let who = acting;
        let coll = v.coll;
        let old = if name.is_empty() {
            None
        } else {
            b.ctx.store.dav_get(coll.id, &name).map_err(store_err)?
        };
        let conflict = |_before: Option<&DavObject>| -> Result<Done, MailError> {
            let current = b.ctx.store.dav_get(coll.id, &name).map_err(store_err)?;
            let (fields, facts) = match &current {
                Some(o) => match read_event(&o.data, &who, zone) {
                    Ok((f, facts)) => (Some(f), facts),
                    Err(_) => (None, EventFacts::default()),
                },
                None => (None, EventFacts::default()),
            };
            Ok(Done::Conflict(Box::new((
                fields,
                Frame {
                    cal: cal.clone(),
                    name: if current.is_some() {
                        name.clone()
                    } else {
                        String::new()
                    },
                    etag: current.map(|o| o.etag).unwrap_or_default(),
                    calendars: Vec::new(),
                    facts,
                    zone: zone.name().to_string(),
                    read_only: false,
                    may_delete: v.may.delete,
                    owner: v.owner_label.clone(),
                    proposals: Vec::new(),
                    declined: None,
                },
            ))))
        };
        let back_date = |data: &str| {
            read_event(data, &who, zone)
                .map(|(f, _)| f.start_date)
                .unwrap_or_default()
        };
        match action.as_str() {
            "save" => {
                let f = f2.ok_or_else(|| MailError::Invalid("no event in the form".into()))?;
                if !name.is_empty() && old.is_none() {
                    return conflict(None);
                }
                let (obj_name, data, cond) = match &old {
                    None => {
                        let uid = format!("{}@ferrymail", new_id());
                        (
                            format!("{uid}.ics"),
                            new_event(&f, &uid, zone, &who, now)?,
                            Condition::Absent,
                        )
                    }
                    Some(o) => {
                        // An invitation is the organizer's event: its copy here changes
                        // only by the organizer's messages and the account's answer.
                        if let Ok((_, facts)) = read_event(&o.data, &who, zone) {
                            if facts.my_partstat.is_some() {
                                return Err(MailError::Invalid(format!(
                                    "this is {}'s event: only your answer can be changed",
                                    facts.organizer
                                )));
                            }
                        }
                        (
                            name.clone(),
                            edit_event(&o.data, &f, zone, &who, now)?,
                            Condition::Match(etag.clone()),
                        )
                    }
                };
                if old.is_some() && old.as_ref().map(|o| &o.etag) != Some(&etag) {
                    return conflict(old.as_ref());
                }
                match put(b, &coll, &obj_name, data, cond, old.clone())? {
                    Some(w) => Ok(Done::Ok(
                        format!("Saved “{}”.", f.title.trim()),
                        f.start_date.clone(),
                        Box::new(w),
                    )),
                    None => conflict(old.as_ref()),
                }
            }
            "delete" => {
                let o = old.ok_or(MailError::NotFound)?;
                super::shared::not_locked(&coll, &name, false)?;
                match b
                    .ctx
                    .store
                    .dav_delete(coll.id, &name, &Condition::Match(etag.clone()))
                    .map_err(store_err)?
                {
                    DeleteOutcome::Deleted => {
                        b.ctx.store.commit().map_err(store_err)?;
                        let date = back_date(&o.data);
                        let w = Written {
                            coll: coll.clone(),
                            old: Some(o),
                            new: None,
                        };
                        Ok(Done::Ok("Event deleted.".into(), date, Box::new(w)))
                    }
                    DeleteOutcome::NotFound | DeleteOutcome::PreconditionFailed => {
                        conflict(Some(&o))
                    }
                }
            }
            "counter" | "counter-accept" | "counter-decline" | "refresh" => {
                let o = old.ok_or(MailError::NotFound)?;
                if o.etag != etag {
                    return conflict(Some(&o));
                }
                let proposed = Proposed {
                    start_date: p2.0.clone(),
                    start_time: p2.1.clone(),
                    end_date: p2.2.clone(),
                    end_time: p2.3.clone(),
                };
                let chosen = (p2.4.as_str(), p2.5.as_str());
                match counter_action(b, &coll, &o, &action, &who, zone, now, &proposed, chosen)? {
                    Step::Store {
                        data,
                        date,
                        flash,
                        answered,
                    } => match put(
                        b,
                        &coll,
                        &name,
                        data,
                        Condition::Match(etag.clone()),
                        Some(o.clone()),
                    )? {
                        Some(w) => {
                            // The event is stored: its REQUEST goes out whatever happens
                            // to the proposal (a COUNTER left behind is shown again).
                            if let Err(e) = answered.forget(b) {
                                tracing::warn!("webmail: the answered COUNTER stays: {e}");
                            }
                            Ok(Done::Ok(flash, date, Box::new(w)))
                        }
                        None => conflict(Some(&o)),
                    },
                    Step::Send {
                        flash,
                        date,
                        message,
                        answered,
                    } => {
                        if let Some(a) = answered {
                            a.forget(b)?;
                        }
                        Ok(Done::Sent(flash, date, message))
                    }
                }
            }
            a => {
                let status = partstat_of_action(a)
                    .ok_or_else(|| MailError::Invalid(format!("unknown action {a:?}")))?;
                let o = old.ok_or(MailError::NotFound)?;
                if o.etag != etag {
                    return conflict(Some(&o));
                }
                let data = set_partstat(&o.data, &who, status, now)?.ok_or_else(|| {
                    MailError::Invalid("you are not an attendee of this event".into())
                })?;
                let date = back_date(&o.data);
                match put(
                    b,
                    &coll,
                    &name,
                    data,
                    Condition::Match(etag.clone()),
                    Some(o.clone()),
                )? {
                    Some(w) => Ok(Done::Ok("Your answer is saved.".into(), date, Box::new(w))),
                    None => conflict(Some(&o)),
                }
            }
        }
    })
    .await;
    let done = match done {
        Ok(d) => d,
        Err(MailError::Invalid(msg)) if action == "save" => {
            return Ok(refused(&req, me, (cal, name, etag), raw, msg));
        }
        Err(e) => return Err(e),
    };
    match done {
        Done::Ok(msg, date, w) => {
            crate::scheduling::after_write(
                ctx.get_ref(),
                &me,
                &w.coll,
                w.old.as_ref(),
                w.new.as_ref(),
            )
            .await;
            Ok(redirect_with(
                &req,
                &format!("/calendar?view=week&date={}", enc(&date)),
                Ok(msg),
            ))
        }
        Done::Sent(msg, date, m) => {
            let status = crate::scheduling::deliver::deliver(ctx.get_ref(), &m).await;
            tracing::info!(
                user = %me,
                to = %m.recipient,
                method = m.method.as_str(),
                status,
                "webmail: scheduling message sent"
            );
            Ok(redirect_with(
                &req,
                &format!("/calendar?view=week&date={}", enc(&date)),
                Ok(msg),
            ))
        }
        Done::Refused(msg) => {
            let fr = Frame {
                cal,
                name,
                etag,
                calendars: Vec::new(),
                facts: EventFacts::default(),
                zone: "your time zone".into(),
                read_only: true,
                may_delete: false,
                owner: String::new(),
                proposals: Vec::new(),
                declined: None,
            };
            Ok(page(
                &req,
                me,
                fr,
                raw,
                msg.to_string(),
                StatusCode::FORBIDDEN,
            ))
        }
        Done::Conflict(boxed) => {
            let (current, fr) = *boxed;
            let f = form.or(current).unwrap_or_else(|| blank(""));
            let gone = fr.etag.is_empty();
            let msg = if gone {
                "This event was deleted by someone else meanwhile; saving makes it again."
            } else {
                "This event was changed by someone else since you opened it: nothing was \
                 saved. Your version is below; save again to replace theirs, or reopen the \
                 event to see it."
            };
            Ok(page(&req, me, fr, f, msg.to_string(), StatusCode::CONFLICT))
        }
    }
}

/// A fresh random identifier (128 bits, hex) for a new object's UID and name.
pub(crate) fn new_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}
