//! Delivering scheduling messages (the module comment of `scheduling`): to local accounts'
//! schedule inboxes and calendars, to outside addresses as iMIP mail.

use std::collections::BTreeMap;
use std::sync::Arc;

use calcard::icalendar::ICalendar;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::message_id::MessageId;
use mail_builder::mime::{BodyPart, MimePart};
use mail_builder::MessageBuilder;
use sha2::{Digest, Sha256};

use super::{reserved, INBOX};
use crate::actors::smtp_session;
use crate::actors::ServerContext;
use crate::protocols::caldav::timerange::index_span;
use crate::protocols::caldav::validate::parse_calendar;
use crate::protocols::itip::{self, Message, Method};
use crate::protocols::smtp::{BodyType, Envelope, PeerInfo, Recipient, Service};
use crate::storage::davstore::{
    CollectionKind, CollectionProps, Condition, DavCollection, DavObject, NewCollection, NewObject,
    PutOutcome,
};
use crate::storage::{Destination, RecipientKind, Store};

/// SCHEDULE-STATUS values (RFC 6638 §7.3, RFC 5546 §3.6).
pub const DELIVERED: &str = "1.2";
pub const SENT: &str = "1.1";
pub const INVALID_USER: &str = "3.7";
pub const NOT_DELIVERED: &str = "5.1";

/// What CalDAV PUT/DELETE (and the webmail calendar) call after a successful write of
/// `new` over `old` (either absent) in `collection`, by `actor`. Errors are logged: the
/// write the client was answered for stands. `true` when `new` was rewritten with
/// SCHEDULE-STATUS (its ETag changed: a PUT must not answer the old one).
pub async fn after_write(
    ctx: &Arc<ServerContext>,
    actor: &str,
    collection: &DavCollection,
    old: Option<&DavObject>,
    new: Option<&DavObject>,
) -> bool {
    if collection.kind != CollectionKind::Calendar || reserved(&collection.name) {
        return false;
    }
    match run(ctx, collection, old, new).await {
        Ok(rewritten) => rewritten,
        Err(e) => {
            tracing::warn!(
                actor,
                owner = %collection.owner,
                collection = %collection.name,
                "scheduling after a write failed: {e}"
            );
            false
        }
    }
}

fn parse(o: Option<&DavObject>) -> Option<ICalendar> {
    o.and_then(|o| parse_calendar(&o.data).ok())
        .filter(itip::schedulable)
}

async fn run(
    ctx: &Arc<ServerContext>,
    collection: &DavCollection,
    old: Option<&DavObject>,
    new: Option<&DavObject>,
) -> Result<bool, String> {
    let (old_cal, new_cal) = (parse(old), parse(new));
    let Some(source) = new_cal.as_ref().or(old_cal.as_ref()) else {
        return Ok(false);
    };
    let Some((organizer, _)) = itip::organizer(source) else {
        return Ok(false);
    };
    let owner = collection.owner.to_ascii_lowercase();
    let now = ctx.clock.now();
    // The owner's address in the event: its own, or an alias of it (the directory's).
    let listed: Vec<String> = std::iter::once(organizer.clone())
        .chain(itip::attendees(source).into_keys())
        .collect();
    let (store, o, org, copy) = (
        ctx.store.clone(),
        owner.clone(),
        organizer.clone(),
        source.clone(),
    );
    let me = blocking(move || {
        Ok(owner_address(&store, &o, &listed).or_else(|| {
            // A list alias organizes it and the owner, one of its members and not an
            // attendee, holds the organizer's copy: the owner speaks for the alias.
            (store
                .resolve_recipient(&org)
                .is_ok_and(|d| d.contains(&Destination::Local(o.clone())))
                && holds_organizer_copy(&store, &o, &org, &copy))
            .then_some(org)
        }))
    })
    .await?;
    let Some(me) = me else {
        return Ok(false);
    };
    if organizer == me {
        let msgs = itip::organizer_messages(old_cal.as_ref(), new_cal.as_ref(), &me, now);
        let mut statuses = BTreeMap::new();
        for m in &msgs {
            let status = deliver(ctx, m).await;
            if m.method == Method::Request {
                statuses.insert(m.recipient.clone(), status.to_string());
            }
        }
        if let (Some(obj), Some(cal), false) = (new, new_cal, statuses.is_empty()) {
            let (store, id, obj) = (ctx.store.clone(), collection.id, obj.clone());
            return blocking(move || write_status(&store, id, &obj, cal, &statuses)).await;
        }
    } else if let Some(reply) = itip::attendee_reply(old_cal.as_ref(), new_cal.as_ref(), &me, now) {
        deliver(ctx, &reply).await;
    }
    Ok(false)
}

/// Which of `listed` (the organizer first, then the attendees) is `owner`: its own address,
/// else an alias that leads to it alone (`resolve_recipient`: a list alias reaching others
/// too does not speak for it). `None`: the owner is not in the event.
pub(crate) fn owner_address(store: &Store, owner: &str, listed: &[String]) -> Option<String> {
    if let Some(a) = listed.iter().find(|a| a.as_str() == owner) {
        return Some(a.clone());
    }
    listed
        .iter()
        .find(|a| {
            store
                .resolve_recipient(a)
                .is_ok_and(|d| d == [Destination::Local(owner.to_string())])
        })
        .cloned()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("scheduling task: {e}"))?
}

/// SCHEDULE-STATUS written back on the organizer's object, if it is still the one written
/// (a newer write wins; it brings its own scheduling).
fn write_status(
    store: &Store,
    collection: u64,
    obj: &DavObject,
    mut cal: ICalendar,
    statuses: &BTreeMap<String, String>,
) -> Result<bool, String> {
    if !itip::set_schedule_status(&mut cal, statuses) {
        return Ok(false);
    }
    let put = NewObject {
        name: obj.name.clone(),
        uid: obj.uid.clone(),
        data: cal.to_string(),
        component: obj.component.clone(),
        first: obj.first,
        last: obj.last,
    };
    // Not scheduling-significant: the Schedule-Tag stays (RFC 6638 §3.2.10).
    match store
        .dav_put_with(collection, &put, &Condition::Match(obj.etag.clone()), true)
        .map_err(|e| e.to_string())?
    {
        PutOutcome::Stored { .. } => {
            store.commit().map_err(|e| e.to_string())?;
            Ok(true)
        }
        other => {
            tracing::debug!("SCHEDULE-STATUS not written: {other:?}");
            Ok(false)
        }
    }
}

/// Delivers one message; its SCHEDULE-STATUS.
pub async fn deliver(ctx: &Arc<ServerContext>, msg: &Message) -> &'static str {
    let (store, to) = (ctx.store.clone(), msg.recipient.clone());
    let local = blocking(move || local_accounts(&store, &to)).await;
    match local {
        Ok(Where::Local(accounts)) => {
            let (store, msg2, now) = (ctx.store.clone(), msg.clone(), ctx.clock.now());
            let done = blocking(move || {
                let mut answers = Vec::new();
                for a in &accounts {
                    if let Applied::Answered(m) = process_local(&store, a, &msg2, now)? {
                        answers.push(*m);
                    }
                }
                Ok(answers)
            })
            .await;
            match done {
                Ok(answers) => {
                    // A REFRESH's answer (a REQUEST): delivered in turn. Bounded: an
                    // answer is a REQUEST, which is never answered itself.
                    for a in answers {
                        Box::pin(deliver(ctx, &a)).await;
                    }
                    DELIVERED
                }
                Err(e) => {
                    tracing::warn!(to = %msg.recipient, uid = %msg.uid, "scheduling: {e}");
                    NOT_DELIVERED
                }
            }
        }
        Ok(Where::Unknown) => INVALID_USER,
        Ok(Where::Remote) => match send_imip(ctx, msg).await {
            Ok(id) => {
                tracing::info!(
                    to = %msg.recipient,
                    uid = %msg.uid,
                    method = msg.method.as_str(),
                    queue_id = %id,
                    "iMIP message queued"
                );
                SENT
            }
            Err(e) => {
                tracing::warn!(to = %msg.recipient, uid = %msg.uid, "iMIP not sent: {e}");
                NOT_DELIVERED
            }
        },
        Err(e) => {
            tracing::warn!(to = %msg.recipient, "scheduling: {e}");
            NOT_DELIVERED
        }
    }
}

enum Where {
    Local(Vec<String>),
    Unknown,
    Remote,
}

fn local_accounts(store: &Store, address: &str) -> Result<Where, String> {
    match store.check_recipient(address) {
        Ok(RecipientKind::Remote) => Ok(Where::Remote),
        Ok(RecipientKind::UnknownLocal) | Err(crate::storage::StorageError::Invalid(_)) => {
            Ok(Where::Unknown)
        }
        Ok(RecipientKind::Local) => {
            let accounts: Vec<String> = store
                .resolve_recipient(address)
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter_map(|d| match d {
                    Destination::Local(a) => Some(a.to_ascii_lowercase()),
                    Destination::Remote(_) => None,
                })
                .collect();
            Ok(if accounts.is_empty() {
                Where::Unknown
            } else {
                Where::Local(accounts)
            })
        }
        Err(e) => Err(e.to_string()),
    }
}

/// What a scheduling message did to a local account's calendar.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    /// Stored in the inbox and applied to the calendar copy.
    Done,
    /// Stored in the inbox only (no copy to change: a CANCEL or REPLY for an unknown UID).
    InboxOnly,
    /// Refused (not invited, not from the organizer): nothing stored.
    Ignored(String),
    /// A REFRESH from an attendee: this REQUEST of the current event answers it (the
    /// caller delivers it).
    Answered(Box<Message>),
}

/// Processes `msg` for local `account` (module comment): the sender checks of an incoming
/// message, the inbox, the calendar copy. `msg.sender` is the address the message is from
/// (the organizer for REQUEST/CANCEL, the attendee for REPLY), already checked by the
/// caller against where it came from.
pub fn process_local(
    store: &Store,
    account: &str,
    msg: &Message,
    now: i64,
) -> Result<Applied, String> {
    let cal = &msg.calendar;
    let uid = &msg.uid;
    // A UID (or sender) with a control character (calcard unescapes `\n` in text) could
    // pass for another inbox key ([`counter_key`]); no client writes one (a PUT of such a
    // UID is refused as `valid-calendar-data`).
    if uid.chars().any(char::is_control) || msg.sender.chars().any(char::is_control) {
        return Ok(Applied::Ignored(
            "a UID or sender with a control character".into(),
        ));
    }
    let existing = find_by_uid(store, account, uid)?;
    let existing_cal = existing
        .as_ref()
        .and_then(|(_, o)| parse_calendar(&o.data).ok());
    if let Some(c) = &existing_cal {
        // A REFRESH carries no SEQUENCE: it asks for the current revision.
        if msg.method != Method::Refresh && itip::stale(cal, c) {
            return Ok(Applied::Ignored(format!(
                "a {} for an older revision of {uid} than the stored one",
                msg.method.as_str()
            )));
        }
    }
    let copy = match msg.method {
        Method::Request => {
            if itip::organizer(cal).map(|o| o.0).as_deref() != Some(msg.sender.as_str()) {
                return Ok(Applied::Ignored("a REQUEST not from its organizer".into()));
            }
            // The account itself, or the address it was invited by (an alias of it).
            let listed = itip::attendees(cal);
            let me = if listed.contains_key(account) {
                account
            } else if listed.contains_key(&msg.recipient) {
                msg.recipient.as_str()
            } else {
                return Ok(Applied::Ignored(format!("{account} is not an attendee")));
            };
            if let Some(c) = &existing_cal {
                if itip::organizer(c).map(|o| o.0).as_deref() != Some(msg.sender.as_str()) {
                    return Ok(Applied::Ignored(
                        "the stored event has another organizer".into(),
                    ));
                }
            }
            Some(itip::attendee_copy(cal, me, existing_cal.as_ref()))
        }
        Method::Cancel => {
            if itip::organizer(cal).map(|o| o.0).as_deref() != Some(msg.sender.as_str()) {
                return Ok(Applied::Ignored("a CANCEL not from its organizer".into()));
            }
            match &existing_cal {
                Some(c)
                    if itip::organizer(c).map(|o| o.0).as_deref() == Some(msg.sender.as_str()) =>
                {
                    Some(itip::apply_cancel(c, cal).map_err(|e| e.to_string())?)
                }
                Some(_) => {
                    return Ok(Applied::Ignored(
                        "the stored event has another organizer".into(),
                    ))
                }
                None => None,
            }
        }
        Method::Counter | Method::Refresh => {
            // To the organizer, from one of its attendees.
            let copy = match &existing_cal {
                Some(c) if holds_organizer_copy(store, account, &msg.recipient, c) => c,
                Some(_) => return Ok(Applied::Ignored(format!("{account} is not the organizer"))),
                None => {
                    return Ok(Applied::Ignored(format!(
                        "no event {uid} organized by {account}"
                    )))
                }
            };
            if let Err(e) = itip::counter::from_attendee(copy, cal, &msg.sender) {
                return Ok(Applied::Ignored(e.to_string()));
            }
            // An organizer listed among its own attendees is no attendee here: its REFRESH
            // would send the event back to itself as a REQUEST, which would replace its own
            // copy with an attendee's; its COUNTER would wait for its own answer.
            let organizer = itip::organizer(copy).map(|o| o.0).unwrap_or_default();
            if msg.sender.eq_ignore_ascii_case(&organizer)
                || msg.sender.eq_ignore_ascii_case(account)
            {
                return Ok(Applied::Ignored(format!(
                    "{} is the organizer: no {} to itself",
                    msg.sender,
                    if msg.method == Method::Refresh {
                        "REFRESH"
                    } else {
                        "COUNTER"
                    }
                )));
            }
            if msg.method == Method::Refresh {
                let me = itip::organizer(copy).map(|o| o.0).unwrap_or_default();
                return Ok(
                    match itip::counter::refresh_answer(copy, &me, &msg.sender, now) {
                        Some(answer) => Applied::Answered(Box::new(answer)),
                        None => Applied::Ignored(format!("{} is not invited", msg.sender)),
                    },
                );
            }
            // A COUNTER waits in the inbox for the organizer's answer (the webmail's
            // accept or decline), with its proposer as its only attendee.
            let kept = Message {
                calendar: itip::counter::for_inbox(cal, &msg.sender),
                ..msg.clone()
            };
            put_inbox(store, account, &kept)?;
            store.commit().map_err(|e| e.to_string())?;
            return Ok(Applied::InboxOnly);
        }
        Method::DeclineCounter => {
            // To an attendee, from the organizer of its copy: kept in the inbox.
            match &existing_cal {
                Some(c)
                    if itip::organizer(c).map(|o| o.0).as_deref() == Some(msg.sender.as_str()) => {}
                _ => {
                    return Ok(Applied::Ignored(
                        "a DECLINECOUNTER not from the event's organizer".into(),
                    ))
                }
            }
            put_inbox(store, account, msg)?;
            store.commit().map_err(|e| e.to_string())?;
            return Ok(Applied::InboxOnly);
        }
        Method::Reply => {
            let who = itip::reply_attendee(cal).map_err(|e| e.to_string());
            match who {
                Ok(a) if a.address == msg.sender => {}
                Ok(a) => {
                    return Ok(Applied::Ignored(format!(
                        "a REPLY for {} sent by {}",
                        a.address, msg.sender
                    )))
                }
                Err(e) => return Ok(Applied::Ignored(e)),
            }
            // The organizer is the account, or the alias of it the REPLY was sent to.
            let organizer_is = |c: &ICalendar| {
                itip::organizer(c).is_some_and(|o| o.0 == account || o.0 == msg.recipient)
            };
            match &existing_cal {
                Some(c) if organizer_is(c) => match itip::apply_reply(c, cal) {
                    Ok(updated) => Some(updated),
                    Err(e) => return Ok(Applied::Ignored(e.to_string())),
                },
                Some(_) => return Ok(Applied::Ignored(format!("{account} is not the organizer"))),
                None => {
                    return Ok(Applied::Ignored(format!(
                        "no event {uid} organized by {account}"
                    )))
                }
            }
        }
    };
    put_inbox(store, account, msg)?;
    store.commit().map_err(|e| e.to_string())?;
    let Some(copy) = copy else {
        return Ok(Applied::InboxOnly);
    };
    let component = component_of(&copy);
    let (first, last) = index_span(&copy).unwrap_or((None, None));
    match existing {
        Some((coll, obj)) => {
            let put = NewObject {
                name: obj.name.clone(),
                uid: uid.clone(),
                data: copy.to_string(),
                component,
                first,
                last,
            };
            // A REPLY merged into the organizer's copy keeps its Schedule-Tag; the
            // organizer's REQUEST or CANCEL changes the attendee's (RFC 6638 §3.2.10).
            let keep = msg.method == Method::Reply;
            check_put(store.dav_put_with(
                coll.id,
                &put,
                &Condition::Match(obj.etag.clone()),
                keep,
            ))?;
        }
        None => {
            let coll = default_calendar(store, account, &component)?
                .ok_or_else(|| format!("{account} has no calendar for {component}"))?;
            let put = NewObject {
                name: resource_name(uid),
                uid: uid.clone(),
                data: copy.to_string(),
                component,
                first,
                last,
            };
            check_put(store.dav_put(coll.id, &put, &Condition::Absent))?;
        }
    }
    store.commit().map_err(|e| e.to_string())?;
    Ok(Applied::Done)
}

/// Whether `copy` (found by UID in `account`'s calendars) is the organizer's copy, the one
/// that answers a COUNTER or REFRESH sent to `recipient`: its ORGANIZER is the account, or
/// `recipient` (an alias it was reached through). When the ORGANIZER is not the account
/// itself (an alias, maybe a list alias leading to several accounts), a copy in which the
/// account is an ATTENDEE (by its own address or an alias leading to it alone) is an
/// attendee's copy: that member ignores the message, and only the member holding the
/// organizer's copy answers.
fn holds_organizer_copy(store: &Store, account: &str, recipient: &str, copy: &ICalendar) -> bool {
    let Some((organizer, _)) = itip::organizer(copy) else {
        return false;
    };
    if organizer == account {
        return true;
    }
    if organizer != recipient {
        return false;
    }
    let listed: Vec<String> = itip::attendees(copy)
        .into_keys()
        .filter(|a| *a != organizer)
        .collect();
    owner_address(store, account, &listed).is_none()
}

fn check_put(r: Result<PutOutcome, crate::storage::StorageError>) -> Result<(), String> {
    match r.map_err(|e| e.to_string())? {
        PutOutcome::Stored { .. } => Ok(()),
        PutOutcome::PreconditionFailed => Err("the calendar copy changed meanwhile".into()),
        PutOutcome::UidConflict(n) => Err(format!("the UID is held by {n}")),
    }
}

fn component_of(cal: &ICalendar) -> String {
    crate::protocols::caldav::validate::top_level(cal)
        .find_map(|c| {
            crate::protocols::caldav::validate::ComponentKind::of(&c.component_type)
                .map(|k| k.as_str().to_string())
        })
        .unwrap_or_else(|| "VEVENT".into())
}

/// A resource name for a UID: hex of its hash, so any UID makes a safe path segment.
fn resource_name(uid: &str) -> String {
    format!("{}.ics", hex::encode(&Sha256::digest(uid.as_bytes())[..16]))
}

/// The account's schedule inbox, made on first use.
pub fn inbox(store: &Store, account: &str) -> Result<DavCollection, String> {
    schedule_box(store, account, INBOX)
}

/// The account's schedule inbox or outbox (`name` is [`INBOX`] or [`super::OUTBOX`]), made on
/// first use: by the first delivery, or when a client first asks for it. NotFound (as an
/// error text) when `account` is no account.
pub fn schedule_box(store: &Store, account: &str, name: &str) -> Result<DavCollection, String> {
    debug_assert!(reserved(name));
    if let Some(c) = store
        .dav_collection(account, name)
        .map_err(|e| e.to_string())?
    {
        // Only a calendar is a schedule box (the name is refused for anything else, but
        // a store copied from an older version could hold one).
        if c.kind != CollectionKind::Calendar {
            return Err(format!("{account}'s collection {name:?} is not a calendar"));
        }
        return Ok(c);
    }
    let display_name = if name == INBOX {
        "Scheduling inbox"
    } else {
        "Scheduling outbox"
    };
    let new = NewCollection {
        owner: account.to_string(),
        name: name.to_string(),
        kind: CollectionKind::Calendar,
        props: CollectionProps {
            display_name: display_name.into(),
            ..CollectionProps::default()
        },
        components: vec!["VEVENT".into(), "VTODO".into()],
    };
    match store.dav_create_collection(&new) {
        Ok(c) => Ok(c),
        // Made meanwhile by another delivery or request.
        Err(crate::storage::StorageError::Exists(_)) => store
            .dav_collection(account, name)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the {name} vanished")),
        Err(e) => Err(e.to_string()),
    }
}

/// The store key (the per-collection unique "UID" of the store) of the COUNTER from
/// `attendee` for event `uid` in a schedule inbox: one waiting proposal per (UID,
/// attendee, instances countered), beside the UID's other message. `instances` are the
/// countered RECURRENCE-IDs (`itip::counter::countered_instances`; none for the master):
/// proposals for two instances do not replace each other. The object's data keeps the
/// event's UID. No UID taken in has a control character (`process_local`), so the first
/// line of a key is the UID; the instances are hashed (their text is the sender's).
pub fn counter_key(uid: &str, attendee: &str, instances: &[String]) -> String {
    let mut key = format!("{uid}\ncounter:{attendee}");
    if !instances.is_empty() {
        let mut h = Sha256::new();
        for i in instances {
            h.update(i.as_bytes());
            h.update([0u8]);
        }
        key.push_str("\ninstances:");
        key.push_str(&hex::encode(&h.finalize()[..16]));
    }
    key
}

/// Whether inbox key `key` is that of a message of event `uid`: the UID itself, or one of
/// its COUNTERs ([`counter_key`]).
fn key_of_uid(key: &str, uid: &str) -> bool {
    key == uid
        || key
            .strip_prefix(uid)
            .is_some_and(|rest| rest.starts_with("\ncounter:"))
}

/// Stores the message in the inbox: one resource per UID, the newest message replacing
/// an older one of the same UID (the store keeps UIDs unique per collection); a COUNTER
/// is kept apart, one per (UID, attendee) ([`counter_key`]), until the organizer answers.
fn put_inbox(store: &Store, account: &str, msg: &Message) -> Result<(), String> {
    let coll = inbox(store, account)?;
    // A COUNTER kept under the plain UID (by an older version) waits for the organizer's
    // answer: a REPLY, merged into the organizer's copy already, does not replace it.
    if msg.method == Method::Reply {
        let held = store
            .dav_objects(coll.id)
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|o| o.uid == msg.uid);
        if held.is_some_and(|o| is_method(&o, Method::Counter)) {
            return Ok(());
        }
    }
    let key = if msg.method == Method::Counter {
        counter_key(
            &msg.uid,
            &msg.sender,
            &itip::counter::countered_instances(&msg.calendar),
        )
    } else {
        msg.uid.clone()
    };
    let (first, last) = index_span(&msg.calendar).unwrap_or((None, None));
    let mut put = NewObject {
        name: resource_name(&key),
        uid: key,
        data: msg.text(),
        component: component_of(&msg.calendar),
        first,
        last,
    };
    // Bounded: a conflict names the holder, and the second put goes to that name.
    for _ in 0..2 {
        match store
            .dav_put(coll.id, &put, &Condition::Any)
            .map_err(|e| e.to_string())?
        {
            PutOutcome::Stored { .. } => return Ok(()),
            PutOutcome::UidConflict(name) => put.name = name,
            PutOutcome::PreconditionFailed => return Err("inbox put refused".into()),
        }
    }
    Err("the inbox holds the UID under two names".into())
}

/// A schedule inbox and some of its messages, each with its parsed calendar.
pub type InboxMessages = (DavCollection, Vec<(DavObject, ICalendar)>);

fn is_method(o: &DavObject, method: Method) -> bool {
    parse_calendar(&o.data).is_ok_and(|c| Method::of(&c) == Some(method))
}

/// The messages of `method` for event `uid` in `account`'s schedule inbox, with their
/// parsed calendars (none when there is no inbox yet).
fn inbox_messages(
    store: &Store,
    account: &str,
    uid: &str,
    method: Method,
) -> Result<Option<InboxMessages>, String> {
    let Some(coll) = store
        .dav_collection(account, INBOX)
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let found = store
        .dav_objects(coll.id)
        .map_err(|e| e.to_string())?
        .into_iter()
        // The key first: only this event's messages are parsed.
        .filter(|o| key_of_uid(&o.uid, uid))
        .filter_map(|o| {
            let cal = parse_calendar(&o.data).ok()?;
            (Method::of(&cal) == Some(method) && itip::uid(&cal).as_deref() == Some(uid))
                .then_some((o, cal))
        })
        .collect();
    Ok(Some((coll, found)))
}

/// The COUNTERs of `uid` waiting for `account`'s answer in its schedule inbox, one per
/// proposing attendee (the inbox objects, for a conditional delete once answered, and
/// the proposals), in the inbox's name order; empty when there is none (or no inbox yet).
pub fn pending_counters(
    store: &Store,
    account: &str,
    uid: &str,
) -> Result<Option<InboxMessages>, String> {
    inbox_messages(store, account, uid, Method::Counter)
}

/// The DECLINECOUNTER of `uid` in attendee `account`'s schedule inbox: the organizer
/// declined the account's proposal. The next REQUEST of that UID replaces it (one
/// inbox resource per UID), so it is shown only until the organizer writes again.
/// Its calendar and when it was stored (Unix seconds, 0 when unknown).
pub fn declined_counter(
    store: &Store,
    account: &str,
    uid: &str,
) -> Result<Option<(ICalendar, i64)>, String> {
    Ok(inbox_messages(store, account, uid, Method::DeclineCounter)?
        .and_then(|(_, mut found)| found.pop())
        .map(|(o, cal)| (cal, o.modified)))
}

/// The inbox and object of the DECLINECOUNTER of `uid` in `account`'s schedule inbox, if
/// one is there: the attendee's next COUNTER makes it old news (it is deleted then).
pub fn declined_counter_held(
    store: &Store,
    account: &str,
    uid: &str,
) -> Result<Option<(DavCollection, DavObject)>, String> {
    Ok(inbox_messages(store, account, uid, Method::DeclineCounter)?
        .and_then(|(coll, mut found)| found.pop().map(|(o, _)| (coll, o))))
}

/// The object of `uid` in the account's calendars (not the inbox or outbox).
pub fn find_by_uid(
    store: &Store,
    account: &str,
    uid: &str,
) -> Result<Option<(DavCollection, DavObject)>, String> {
    let colls = store.dav_collections(account).map_err(|e| e.to_string())?;
    for c in colls {
        if c.kind != CollectionKind::Calendar || reserved(&c.name) {
            continue;
        }
        let objs = store.dav_objects(c.id).map_err(|e| e.to_string())?;
        if let Some(o) = objs.into_iter().find(|o| o.uid == uid) {
            return Ok(Some((c, o)));
        }
    }
    Ok(None)
}

/// Where a new invitation goes: the calendar named `calendar` when it takes the component,
/// else the first calendar that does.
fn default_calendar(
    store: &Store,
    account: &str,
    component: &str,
) -> Result<Option<DavCollection>, String> {
    let colls = store.dav_collections(account).map_err(|e| e.to_string())?;
    let takes = |c: &&DavCollection| {
        c.kind == CollectionKind::Calendar
            && !reserved(&c.name)
            && c.components
                .iter()
                .any(|k| k.eq_ignore_ascii_case(component))
    };
    Ok(colls
        .iter()
        .filter(takes)
        .find(|c| c.name == "calendar")
        .or_else(|| colls.iter().find(takes))
        .cloned())
}

/// The iMIP message (RFC 6047 §2) for `msg`: multipart/alternative of a text summary and
/// the iCalendar object as `text/calendar; method=…; charset=utf-8`, From: the sender.
pub fn imip_message(msg: &Message, hostname: &str, now: i64) -> Result<Vec<u8>, String> {
    let summary = msg.summary();
    let what = if summary.is_empty() {
        "(no title)".to_string()
    } else {
        summary
    };
    let (subject, text) = match msg.method {
        Method::Request => (
            format!("Invitation: {what}"),
            format!(
                "{} invites you to \"{what}\".\r\n\r\nThe invitation is attached as an \
                 iCalendar object; your calendar program can accept or decline it.\r\n",
                msg.sender
            ),
        ),
        Method::Cancel => (
            format!("Cancelled: {what}"),
            format!("{} has cancelled \"{what}\".\r\n", msg.sender),
        ),
        Method::Counter => (
            format!("New time proposed: {what}"),
            format!(
                "{} proposes a new time for \"{what}\".\r\n\r\nThe proposal is attached \
                 as an iCalendar object; your calendar program can accept or decline it.\r\n",
                msg.sender
            ),
        ),
        Method::DeclineCounter => (
            format!("Proposal declined: {what}"),
            format!(
                "{} has declined your proposal for \"{what}\"; the event stays as it \
                 was.\r\n",
                msg.sender
            ),
        ),
        Method::Refresh => (
            format!("Update requested: {what}"),
            format!(
                "{} asks for the current version of \"{what}\".\r\n",
                msg.sender
            ),
        ),
        Method::Reply => {
            let partstat = itip::reply_attendee(&msg.calendar)
                .map(|a| a.partstat)
                .unwrap_or_default();
            (
                format!("{}: {what}", reply_word(&partstat)),
                format!(
                    "{} has answered \"{what}\": {}.\r\n",
                    msg.sender,
                    partstat.to_ascii_lowercase()
                ),
            )
        }
    };
    let calendar = MimePart::new(
        ContentType::new("text/calendar")
            .attribute("method", msg.method.as_str())
            .attribute("charset", "utf-8"),
        BodyPart::Text(msg.text().into()),
    );
    let plain = MimePart::new(
        ContentType::new("text/plain").attribute("charset", "utf-8"),
        BodyPart::Text(text.into()),
    );
    MessageBuilder::new()
        .from(Address::new_address(None::<String>, msg.sender.clone()))
        .sender(Address::new_address(None::<String>, msg.sender.clone()))
        .to(Address::new_address(None::<String>, msg.recipient.clone()))
        .subject(subject)
        .date(now)
        .message_id(MessageId::new(format!(
            "{}@{hostname}",
            hex::encode(rand::random::<[u8; 12]>())
        )))
        .body(MimePart::new(
            "multipart/alternative",
            BodyPart::Multipart(vec![plain, calendar]),
        ))
        .write_to_vec()
        .map_err(|e| format!("iMIP message not built: {e}"))
}

fn reply_word(partstat: &str) -> &'static str {
    match partstat {
        "ACCEPTED" => "Accepted",
        "DECLINED" => "Declined",
        "TENTATIVE" => "Tentative",
        _ => "Reply",
    }
}

/// Queues `msg` as iMIP mail through the submission path, as the sender's account.
async fn send_imip(ctx: &Arc<ServerContext>, msg: &Message) -> Result<String, String> {
    if !ctx.queues_ready() {
        return Err("the mail queues are not running".into());
    }
    let config = ctx.config();
    let body = imip_message(msg, &config.hostname, ctx.clock.now())?;
    let smtputf8 = !msg.sender.is_ascii() || !msg.recipient.is_ascii();
    let env = Envelope {
        mail_from: msg.sender.clone(),
        recipients: vec![Recipient {
            address: msg.recipient.clone(),
            notify: None,
            orcpt: None,
        }],
        body,
        size_declared: None,
        body_type: BodyType::EightBitMime,
        smtputf8,
        ret: None,
        envid: None,
        requiretls: false,
        auth_as: Some(msg.sender.clone()),
        helo: "scheduling".into(),
        tls: false,
        peer: PeerInfo {
            ip: std::net::IpAddr::from([127, 0, 0, 1]),
            port: 0,
            session_id: ctx.new_session_id(),
        },
        protocol: "ESMTPA",
    };
    smtp_session::enqueue(ctx, env, Service::Submission, false)
        .await
        .map_err(|e| format!("{e:?}"))
}
