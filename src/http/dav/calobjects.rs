//! Calendar and address objects (RFC 4791 §5.3.2, RFC 6352 §6.3.2): GET/HEAD, PUT with
//! its preconditions, DELETE, and COPY/MOVE between the caller's collections of one kind.
//!
//! Implementation notes:
//!
//! - A PUT body is read whole, bounded by `[http] dav_max_resource_size` (the
//!   `max-resource-size` the collections announce), validated by
//!   `protocols::caldav::validate` / `protocols::carddav::validate` and stored verbatim:
//!   the ETag on the answer is the stored object's (RFC 4791 §5.3.4).
//! - If-Match and If-None-Match become a `storage::davstore::Condition` decided by the
//!   store in the same atomic step as the write, so two writers racing with one ETag
//!   cannot both win (412 for the loser).
//! - MOVE is a put in the destination then a conditional delete of the source; if the
//!   source changed meanwhile, the copy is taken back and the answer is 412.
//! - [`after_write`] is the one place a successful write is reported to what follows it
//!   (scheduling, RFC 6638, is wired there).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::calcommon::{find_collection, kind_ns, precondition, schedule_tag};
use super::{blocking, header_str, object_href, target_of, Ctx, DavError, Target};
use crate::protocols::caldav::validate::{
    parse_calendar, validate_calendar, CalendarPrecondition, ComponentKind,
};
use crate::protocols::carddav::validate::{validate_card, AddressPrecondition};
use crate::protocols::webdav::conditional::{self, parse_http_date};
use crate::protocols::webdav::headers;
use crate::protocols::webdav::report::{CALDAV, CARDDAV};
use crate::storage::davstore::CollectionKind;
use crate::storage::davstore::{
    Condition, DavCollection, DavObject, DeleteOutcome, NewObject, PutOutcome, Write,
};
use crate::storage::Store;

use super::locks::{self, Need};

/// An object's address: its owner, home kind, collection and name.
#[derive(Debug, Clone)]
pub(crate) struct At {
    pub owner: String,
    pub kind: CollectionKind,
    pub collection: String,
    pub name: String,
}

/// A successful write, for what follows it: `old` is the object before, `new` after
/// (`None`: absent). Scheduling (RFC 6638, `crate::scheduling::after_write`) runs before
/// the answer; `true` when it rewrote `new` (SCHEDULE-STATUS), so the answer must not give
/// the ETag of what the client sent (RFC 4791 §5.3.4).
pub(crate) async fn after_write(
    ctx: &Ctx,
    actor: &str,
    collection: &DavCollection,
    old: Option<&DavObject>,
    new: Option<&DavObject>,
) -> bool {
    // Public collections have no owner to schedule for.
    if collection.owner == crate::storage::PUBLIC_OWNER {
        return false;
    }
    crate::scheduling::after_write(ctx.get_ref(), actor, collection, old, new).await
}

/// The collection an object lives in, of the right kind, or 404 (`missing`: the status
/// when it does not exist: 409 for a PUT, RFC 4918 §9.7.1).
async fn collection_of(
    ctx: &Ctx,
    owner: &str,
    kind: CollectionKind,
    name: &str,
    missing: StatusCode,
) -> Result<DavCollection, DavError> {
    let (c, o, n) = (ctx.get_ref().clone(), owner.to_string(), name.to_string());
    blocking(move || find_collection(&c.store, &o, kind, &n))
        .await?
        .ok_or_else(|| DavError::new(missing, "no such collection"))
}

async fn object(ctx: &Ctx, collection: u64, name: &str) -> Result<Option<DavObject>, DavError> {
    let (c, n) = (ctx.get_ref().clone(), name.to_string());
    blocking(move || Ok(c.store.dav_get(collection, &n)?)).await
}

/// The Content-Type of an object.
pub(crate) fn content_type(kind: CollectionKind, component: &str) -> String {
    match kind {
        CollectionKind::Calendar => format!(
            "text/calendar; charset=utf-8; component={}",
            component.to_ascii_lowercase()
        ),
        CollectionKind::AddressBook => "text/vcard; charset=utf-8".to_string(),
    }
}

/// GET/HEAD (HEAD: actix-web leaves the body out and keeps Content-Length).
pub(crate) async fn get(ctx: &Ctx, req: &HttpRequest, at: &At) -> Result<HttpResponse, DavError> {
    let col = collection_of(
        ctx,
        &at.owner,
        at.kind,
        &at.collection,
        StatusCode::NOT_FOUND,
    )
    .await?;
    let obj = object(ctx, col.id, &at.name)
        .await?
        .ok_or_else(DavError::not_found)?;
    // RFC 9110 §13.2.2 (`protocols::webdav::conditional`): If-Match, If-Unmodified-Since,
    // If-None-Match, If-Modified-Since; a 304 carries what a 200 would but the body.
    let h = conditional::Headers {
        if_match: header_str(req, "If-Match"),
        if_none_match: header_str(req, "If-None-Match"),
        if_modified_since: header_str(req, "If-Modified-Since"),
        if_unmodified_since: header_str(req, "If-Unmodified-Since"),
    };
    let v = conditional::Validators {
        etag: Some(&obj.etag),
        modified_ms: (obj.modified > 0).then(|| obj.modified.saturating_mul(1000)),
    };
    let status = match conditional::evaluate_read(&h, &v, super::now_ms()) {
        conditional::Outcome::Failed => {
            return Err(DavError::new(
                StatusCode::PRECONDITION_FAILED,
                "a precondition does not hold",
            ))
        }
        conditional::Outcome::NotModified => StatusCode::NOT_MODIFIED,
        conditional::Outcome::Proceed => StatusCode::OK,
    };
    let mut r = HttpResponse::build(status);
    r.insert_header((header::ETAG, obj.etag.as_str()));
    if let Some(t) = last_modified(&obj) {
        r.insert_header((header::LAST_MODIFIED, t));
    }
    if let Some(tag) = schedule_tag(at.kind, &obj) {
        r.insert_header((SCHEDULE_TAG, tag));
    }
    if status == StatusCode::NOT_MODIFIED {
        return Ok(r.finish());
    }
    r.content_type(content_type(at.kind, &obj.component));
    Ok(r.body(obj.data))
}

/// The Last-Modified value of `obj` (`None` when its time is not known).
pub(crate) fn last_modified(obj: &DavObject) -> Option<String> {
    time_of(obj.modified)
}

/// A stored time (Unix seconds, 0: not known) as an HTTP date, capped at the clock
/// ([`super::http_date`]).
pub(crate) fn time_of(secs: i64) -> Option<String> {
    u64::try_from(secs)
        .ok()
        .filter(|t| *t > 0)
        .map(super::http_date)
}

/// The Schedule-Tag header (RFC 6638 §8.2).
const SCHEDULE_TAG: &str = "Schedule-Tag";

/// `cond` with If-Schedule-Tag-Match (RFC 6638 §8.3) folded in: 412 unless `current` is a
/// scheduling object resource with that tag; when it is, the write holds only while the
/// object is the one the tag was checked on.
fn schedule_tag_condition(
    req: &HttpRequest,
    kind: CollectionKind,
    current: Option<&DavObject>,
    cond: Condition,
) -> Result<Condition, DavError> {
    let Some(v) = header_str(req, "If-Schedule-Tag-Match") else {
        return Ok(cond);
    };
    let tag = current.and_then(|o| schedule_tag(kind, o));
    match current {
        Some(cur) if headers::etag_matches(v, tag.as_deref()) => Ok(match cond {
            Condition::Any => Condition::Match(cur.etag.clone()),
            c => c,
        }),
        _ => Err(DavError::new(
            StatusCode::PRECONDITION_FAILED,
            "If-Schedule-Tag-Match does not hold",
        )),
    }
}

/// Whether a write of `new` over `old` keeps the Schedule-Tag: nothing an attendee must
/// hear about changed (`protocols::itip::material`: the same but for participation
/// states, SCHEDULE-STATUS, alarms and stamps), RFC 6638 §3.2.10.
fn keeps_schedule_tag(kind: CollectionKind, old: Option<&DavObject>, new: &str) -> bool {
    let (CollectionKind::Calendar, Some(old)) = (kind, old) else {
        return false;
    };
    match (parse_calendar(&old.data), parse_calendar(new)) {
        (Ok(a), Ok(b)) => !crate::protocols::itip::material(&a, &b),
        _ => false,
    }
}

/// The organizer's write `new` over its `stored` copy under a matching
/// If-Schedule-Tag-Match: the attendees' replies merged meanwhile are kept
/// (`protocols::itip::keep_replies`, RFC 6638 §3.2.10). Only for the organizer's own
/// object (its owner, or an alias leading to it, is the ORGANIZER); anything else is
/// written as sent. Runs on the blocking pool.
fn keep_replies(store: &Store, owner: &str, stored: &DavObject, mut new: NewObject) -> NewObject {
    let (Ok(old), Ok(cal)) = (parse_calendar(&stored.data), parse_calendar(&new.data)) else {
        return new;
    };
    let Some((organizer, _)) = crate::protocols::itip::organizer(&cal) else {
        return new;
    };
    let me =
        crate::scheduling::deliver::owner_address(store, owner, std::slice::from_ref(&organizer));
    if me.as_deref() != Some(organizer.as_str()) {
        return new;
    }
    let merged = crate::protocols::itip::keep_replies(&old, &cal);
    if merged != cal {
        new.data = merged.to_string();
    }
    new
}

/// If-Unmodified-Since (RFC 9110 §13.1.4) on a write: 412 when the object was changed
/// after the date. Ignored with If-Match (which wins), for an object whose time is not
/// known, or a date that does not parse.
fn unmodified_since(req: &HttpRequest, current: Option<&DavObject>) -> Result<(), DavError> {
    if header_str(req, "If-Match").is_some() {
        return Ok(());
    }
    let Some(since) = header_str(req, "If-Unmodified-Since").and_then(parse_http_date) else {
        return Ok(());
    };
    match current {
        Some(o) if o.modified > 0 && o.modified > since => Err(DavError::new(
            StatusCode::PRECONDITION_FAILED,
            "changed since If-Unmodified-Since",
        )),
        _ => Ok(()),
    }
}

/// The lock table's keys of `at`: its space, its path and its collection's path.
fn lock_keys(at: &At) -> Result<(String, String, String), DavError> {
    let object = Target::Object {
        owner: at.owner.clone(),
        kind: at.kind,
        collection: at.collection.clone(),
        name: at.name.clone(),
    };
    let (space, here) = locks::key_of(&object).ok_or_else(DavError::not_found)?;
    Ok((space, here, format!("/{}", at.collection)))
}

/// The lock check of a write on `at` (RFC 4918 §7: 423 `lock-token-submitted` without the
/// token of a lock on it, or, for a new object, on its collection; 412 when the If header
/// does not hold).
fn lock_check(
    req: &HttpRequest,
    me: &str,
    at: &At,
    current: Option<&DavObject>,
) -> Result<(), DavError> {
    let (space, here, parent) = lock_keys(at)?;
    let mut needs = vec![Need::Node(here.as_str())];
    if current.is_none() {
        needs.push(Need::Node(parent.as_str()));
    }
    locks::check(
        req,
        &space,
        me,
        &here,
        current.map(|o| o.etag.as_str()),
        &needs,
    )
}

/// Drops the locks on `at` (it is gone).
fn forget_locks(at: &At) {
    if let Ok((space, path, _)) = lock_keys(at) {
        locks::forget(&space, &path);
    }
}

/// The lock check of removing `at` (DELETE, MOVE's source): locks on it, below it or on
/// its collection (membership) need their tokens.
fn lock_check_tree(
    req: &HttpRequest,
    me: &str,
    at: &At,
    current: &DavObject,
) -> Result<(), DavError> {
    let (space, here, parent) = lock_keys(at)?;
    locks::check(
        req,
        &space,
        me,
        &here,
        Some(current.etag.as_str()),
        &[Need::Tree(here.as_str()), Need::Node(parent.as_str())],
    )
}

/// The lock check of a COPY/MOVE destination: as a PUT there, the If header evaluated on
/// the request URI (RFC 4918 §10.4.1), the tokens of locks on the destination submitted.
fn lock_check_destination(
    req: &HttpRequest,
    me: &str,
    to: &At,
    existing: Option<&DavObject>,
) -> Result<(), DavError> {
    let (space, here, parent) = lock_keys(to)?;
    let mut needs = vec![Need::Tree(here.as_str())];
    if existing.is_none() {
        needs.push(Need::Node(parent.as_str()));
    }
    locks::check_submitted(req, &space, me, &needs)
}

/// The store condition of a write's If-Match / If-None-Match (RFC 9110 §13.1). `Err`:
/// decided already (412) from the object as it is now.
fn condition(req: &HttpRequest, current: Option<&DavObject>) -> Result<Condition, DavError> {
    let failed = || DavError::new(StatusCode::PRECONDITION_FAILED, "the precondition failed");
    let mut cond = Condition::Any;
    if let Some(v) = header_str(req, "If-Match") {
        let cur = current.ok_or_else(failed)?;
        if !headers::etag_matches(v, Some(&cur.etag)) {
            return Err(failed());
        }
        cond = Condition::Match(cur.etag.clone());
    }
    if let Some(v) = header_str(req, "If-None-Match") {
        if v.trim() == "*" {
            if current.is_some() {
                return Err(failed());
            }
            cond = Condition::Absent;
        } else if headers::etag_matches(v, current.map(|c| c.etag.as_str())) {
            return Err(failed());
        } else if let Some(cur) = current {
            // Decided against this ETag: the write holds only if it is still there.
            if cond == Condition::Any {
                cond = Condition::Match(cur.etag.clone());
            }
        }
    }
    Ok(cond)
}

fn cal_error(e: CalendarPrecondition) -> DavError {
    let status = StatusCode::FORBIDDEN;
    let local = e.element();
    precondition(status, CALDAV, local, "", e.to_string())
}

fn card_error(e: AddressPrecondition) -> DavError {
    let local = e.element();
    precondition(StatusCode::FORBIDDEN, CARDDAV, local, "", e.to_string())
}

/// The components a calendar accepts.
pub(crate) fn kinds(col: &DavCollection) -> Vec<ComponentKind> {
    col.components
        .iter()
        .filter_map(|c| ComponentKind::parse(c))
        .collect()
}

/// Validates `data` for `col` into the object to store as `name`.
fn validate(
    col: &DavCollection,
    name: &str,
    data: String,
    max: usize,
) -> Result<NewObject, DavError> {
    match col.kind {
        CollectionKind::Calendar => {
            let o = validate_calendar(&data, &kinds(col), max).map_err(cal_error)?;
            Ok(NewObject {
                name: name.to_string(),
                uid: o.uid,
                component: o.kind.as_str().to_string(),
                first: o.first,
                last: o.last,
                data,
            })
        }
        CollectionKind::AddressBook => {
            let o = validate_card(&data, max).map_err(card_error)?;
            Ok(NewObject {
                name: name.to_string(),
                uid: o.uid,
                component: "VCARD".to_string(),
                first: None,
                last: None,
                data,
            })
        }
    }
}

/// Whether a PUT's Content-Type is one the collection takes (absent: assumed so).
fn media_type_ok(kind: CollectionKind, value: Option<&str>) -> bool {
    let Some(v) = value else { return true };
    let essence = v
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match kind {
        CollectionKind::Calendar => essence == "text/calendar",
        CollectionKind::AddressBook => {
            matches!(
                essence.as_str(),
                "text/vcard" | "text/x-vcard" | "text/directory"
            )
        }
    }
}

fn uid_conflict(at: &At, holder: &str) -> DavError {
    let href = object_href(&at.owner, at.kind, &at.collection, holder);
    precondition(
        StatusCode::FORBIDDEN,
        kind_ns(at.kind),
        "no-uid-conflict",
        &format!(
            "<D:href>{}</D:href>",
            quick_xml::escape::escape(href.as_str())
        ),
        format!("the UID is used by {href}"),
    )
}

/// PUT: 201 created, 204 replaced, each with the stored ETag.
pub(crate) async fn put(
    ctx: &Ctx,
    req: &HttpRequest,
    payload: web::Payload,
    me: &str,
    at: &At,
) -> Result<HttpResponse, DavError> {
    let col = collection_of(
        ctx,
        &at.owner,
        at.kind,
        &at.collection,
        StatusCode::CONFLICT,
    )
    .await?;
    let max = usize::try_from(ctx.config().http.dav_max_resource_size).unwrap_or(usize::MAX);
    let ns = kind_ns(at.kind);
    let too_big = || {
        precondition(
            StatusCode::FORBIDDEN,
            ns,
            "max-resource-size",
            "",
            format!("a resource holds at most {max} bytes"),
        )
    };
    if header_str(req, "Content-Length")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|n| n > max)
    {
        return Err(too_big());
    }
    if !media_type_ok(at.kind, header_str(req, "Content-Type")) {
        let (local, what) = match at.kind {
            CollectionKind::Calendar => ("supported-calendar-data", "text/calendar"),
            CollectionKind::AddressBook => ("supported-address-data", "text/vcard"),
        };
        return Err(precondition(
            StatusCode::FORBIDDEN,
            ns,
            local,
            "",
            format!("only {what} is stored here"),
        ));
    }
    let body = match payload.to_bytes_limited(max).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => {
            return Err(DavError::new(
                StatusCode::BAD_REQUEST,
                "the body could not be read",
            ))
        }
        Err(_) => return Err(too_big()),
    };
    let data = String::from_utf8(body.to_vec()).map_err(|_| {
        let local = match at.kind {
            CollectionKind::Calendar => "valid-calendar-data",
            CollectionKind::AddressBook => "valid-address-data",
        };
        precondition(
            StatusCode::FORBIDDEN,
            ns,
            local,
            "",
            "the body is not UTF-8",
        )
    })?;
    drop(body);
    let (c, col2, name) = (ctx.get_ref().clone(), col.clone(), at.name.clone());
    let mut new = blocking(move || validate(&col2, &name, data, max)).await?;
    let old = object(ctx, col.id, &at.name).await?;
    lock_check(req, me, at, old.as_ref())?;
    unmodified_since(req, old.as_ref())?;
    let cond = condition(req, old.as_ref())?;
    let tag_matched = header_str(req, "If-Schedule-Tag-Match").is_some();
    let cond = schedule_tag_condition(req, at.kind, old.as_ref(), cond)?;
    let mut merged = false;
    if let (true, Some(stored)) = (tag_matched, old.clone()) {
        // The tag held on `stored` and the write holds only while it is there (`cond`).
        let (c, owner) = (ctx.get_ref().clone(), col.owner.clone());
        let before = new.data.clone();
        new = blocking(move || Ok(keep_replies(&c.store, &owner, &stored, new))).await?;
        merged = new.data != before;
    }
    let kind = at.kind;
    let id = col.id;
    let outcome = blocking(move || {
        let data = new.data.clone();
        // Decided on the object replaced, inside the write: an object changed since `old`
        // was read is judged as it is then.
        let keep = move |stored: &DavObject| keeps_schedule_tag(kind, Some(stored), &data);
        let w = Write {
            cond: &cond,
            keep_schedule_tag: &keep,
        };
        let out = c.store.dav_write(id, &new, &w)?;
        c.store.commit()?;
        Ok(out)
    })
    .await?;
    match outcome {
        PutOutcome::Stored { object, created } => {
            let rewritten = after_write(ctx, me, &col, old.as_ref(), Some(&object)).await;
            let mut r = if created {
                HttpResponse::Created()
            } else {
                HttpResponse::NoContent()
            };
            // Not what the client sent (a SCHEDULE-STATUS rewrite, replies kept): no ETag.
            if !rewritten && !merged {
                r.insert_header((header::ETAG, object.etag.as_str()));
            }
            // A SCHEDULE-STATUS rewrite keeps the tag.
            if let Some(tag) = schedule_tag(at.kind, &object) {
                r.insert_header((SCHEDULE_TAG, tag));
            }
            Ok(r.finish())
        }
        PutOutcome::PreconditionFailed => Err(DavError::new(
            StatusCode::PRECONDITION_FAILED,
            "the object changed",
        )),
        PutOutcome::UidConflict(holder) => Err(uid_conflict(at, &holder)),
    }
}

/// DELETE of an object (If-Match honoured): 204, 404, 412.
pub(crate) async fn delete(
    ctx: &Ctx,
    req: &HttpRequest,
    me: &str,
    at: &At,
) -> Result<HttpResponse, DavError> {
    let col = collection_of(
        ctx,
        &at.owner,
        at.kind,
        &at.collection,
        StatusCode::NOT_FOUND,
    )
    .await?;
    let old = object(ctx, col.id, &at.name)
        .await?
        .ok_or_else(DavError::not_found)?;
    lock_check_tree(req, me, at, &old)?;
    unmodified_since(req, Some(&old))?;
    let cond = match condition(req, Some(&old))? {
        Condition::Absent => Condition::Any,
        c => c,
    };
    let cond = schedule_tag_condition(req, at.kind, Some(&old), cond)?;
    let (c, name, id) = (ctx.get_ref().clone(), at.name.clone(), col.id);
    let outcome = blocking(move || {
        let out = c.store.dav_delete(id, &name, &cond)?;
        c.store.commit()?;
        Ok(out)
    })
    .await?;
    match outcome {
        DeleteOutcome::Deleted => {
            forget_locks(at);
            after_write(ctx, me, &col, Some(&old), None).await;
            Ok(HttpResponse::NoContent().finish())
        }
        DeleteOutcome::NotFound => Err(DavError::not_found()),
        DeleteOutcome::PreconditionFailed => Err(DavError::new(
            StatusCode::PRECONDITION_FAILED,
            "the object changed",
        )),
    }
}

/// COPY and MOVE of an object into another collection (or name) of the caller's of the
/// same kind: 201 created, 204 replaced; 412 when the destination exists and Overwrite
/// is F; 409 without the destination collection; 403 onto itself, across kinds or into a
/// collection that does not take the component.
pub(crate) async fn copy_or_move(
    ctx: &Ctx,
    req: &HttpRequest,
    me: &str,
    at: &At,
    remove: bool,
) -> Result<HttpResponse, DavError> {
    let dest = header_str(req, "Destination")
        .ok_or_else(|| DavError::new(StatusCode::BAD_REQUEST, "Destination is missing"))?;
    let (authority, dest_path) = headers::destination(dest)?;
    if let Some(a) = authority {
        let host = req.connection_info().host().to_string();
        if !a.eq_ignore_ascii_case(&host) {
            return Err(DavError::new(
                StatusCode::BAD_GATEWAY,
                "the destination is on another server",
            ));
        }
    }
    let to = match target_of(&dest_path)? {
        Some(Target::Object {
            owner,
            kind,
            collection,
            name,
        }) if owner == me && kind == at.kind => At {
            owner,
            kind,
            collection,
            name,
        },
        _ => {
            return Err(DavError::new(
                StatusCode::FORBIDDEN,
                "the destination is not in one of your collections of this kind",
            ))
        }
    };
    if to.collection == at.collection && to.name == at.name {
        return Err(DavError::new(
            StatusCode::FORBIDDEN,
            "source and destination are the same",
        ));
    }
    let overwrite = headers::overwrite(header_str(req, "Overwrite"))?;
    let from_col = collection_of(
        ctx,
        &at.owner,
        at.kind,
        &at.collection,
        StatusCode::NOT_FOUND,
    )
    .await?;
    let source = object(ctx, from_col.id, &at.name)
        .await?
        .ok_or_else(DavError::not_found)?;
    if let Some(v) = header_str(req, "If-Match") {
        if !headers::etag_matches(v, Some(&source.etag)) {
            return Err(DavError::new(
                StatusCode::PRECONDITION_FAILED,
                "If-Match does not hold",
            ));
        }
    }
    let to_col = collection_of(
        ctx,
        &to.owner,
        to.kind,
        &to.collection,
        StatusCode::CONFLICT,
    )
    .await?;
    if to.kind == CollectionKind::Calendar && !to_col.components.contains(&source.component) {
        return Err(precondition(
            StatusCode::FORBIDDEN,
            CALDAV,
            "supported-calendar-component",
            "",
            format!("{} is not accepted there", source.component),
        ));
    }
    if remove {
        lock_check_tree(req, me, at, &source)?;
    }
    let existing = object(ctx, to_col.id, &to.name).await?;
    lock_check_destination(req, me, &to, existing.as_ref())?;
    if existing.is_some() && !overwrite {
        return Err(DavError::new(
            StatusCode::PRECONDITION_FAILED,
            "the destination exists",
        ));
    }
    let cond = match &existing {
        Some(e) => Condition::Match(e.etag.clone()),
        None => Condition::Absent,
    };
    // A COUNTER in a schedule inbox is kept under its own key, not its UID
    // (`scheduling::deliver::counter_key`): what leaves the inbox for a calendar takes the
    // event's UID; within the schedule boxes it keeps its key (two COUNTERs of one event
    // would otherwise collide, or one replace the event's other message).
    let uid = if at.kind == CollectionKind::Calendar
        && crate::scheduling::reserved(&at.collection)
        && !crate::scheduling::reserved(&to_col.name)
    {
        crate::protocols::caldav::validate::parse_calendar(&source.data)
            .ok()
            .and_then(|c| crate::protocols::itip::uid(&c))
            .unwrap_or_else(|| source.uid.clone())
    } else {
        source.uid.clone()
    };
    let new = NewObject {
        name: to.name.clone(),
        uid,
        data: source.data.clone(),
        component: source.component.clone(),
        first: source.first,
        last: source.last,
    };
    let (c, src_etag, src_name, from_id, to_id) = (
        ctx.get_ref().clone(),
        source.etag.clone(),
        at.name.clone(),
        from_col.id,
        to_col.id,
    );
    let back = NewObject {
        name: at.name.clone(),
        uid: source.uid.clone(),
        ..new.clone()
    };
    let (outcome, moved) = blocking(move || {
        if remove && from_id == to_id {
            // A rename in one collection: the UID goes with the object and a collection
            // holds a UID once, so the source goes first; when the destination then
            // refuses, the source is put back as it was.
            let gone = c
                .store
                .dav_delete(from_id, &src_name, &Condition::Match(src_etag))?;
            if gone != DeleteOutcome::Deleted {
                return Ok((PutOutcome::PreconditionFailed, false));
            }
            let out = c.store.dav_put(to_id, &new, &cond)?;
            if !matches!(out, PutOutcome::Stored { .. }) {
                // Back under its own name and key, which the delete just freed: only a
                // write meanwhile (a newer message of that key, or another object at that
                // name) can take them, and that newer write stands.
                let restored = c.store.dav_put(from_id, &back, &Condition::Absent)?;
                if !matches!(restored, PutOutcome::Stored { .. }) {
                    tracing::warn!(
                        name = %back.name,
                        "MOVE refused by its destination; the source was not put back, \
                         a newer write took its place: {restored:?}"
                    );
                }
            }
            c.store.commit()?;
            return Ok((out, true));
        }
        let out = c.store.dav_put(to_id, &new, &cond)?;
        if !matches!(out, PutOutcome::Stored { .. }) {
            return Ok((out, true));
        }
        if !remove {
            c.store.commit()?;
            return Ok((out, true));
        }
        let gone = c
            .store
            .dav_delete(from_id, &src_name, &Condition::Match(src_etag))?;
        if gone != DeleteOutcome::Deleted {
            // The source changed under us: take the copy back (only as we wrote it: a
            // write by someone else meanwhile stays).
            if let PutOutcome::Stored {
                created: true,
                object,
            } = &out
            {
                c.store
                    .dav_delete(to_id, &new.name, &Condition::Match(object.etag.clone()))?;
            }
            c.store.commit()?;
            return Ok((out, false));
        }
        c.store.commit()?;
        Ok((out, true))
    })
    .await?;
    match outcome {
        PutOutcome::Stored { object, created } if moved => {
            // A MOVE between the owner's calendars is one change of the same event for
            // scheduling (no new invitations, no cancellations); a COPY schedules nothing.
            if remove {
                forget_locks(at);
                after_write(ctx, me, &to_col, Some(&source), Some(&object)).await;
            }
            let mut r = if created {
                HttpResponse::Created()
            } else {
                HttpResponse::NoContent()
            };
            Ok(r.insert_header((header::ETAG, object.etag.as_str()))
                .finish())
        }
        PutOutcome::Stored { .. } | PutOutcome::PreconditionFailed => Err(DavError::new(
            StatusCode::PRECONDITION_FAILED,
            "the source or the destination changed",
        )),
        PutOutcome::UidConflict(holder) => Err(uid_conflict(&to, &holder)),
    }
}
