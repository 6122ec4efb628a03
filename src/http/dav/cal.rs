//! CalDAV (RFC 4791) and CardDAV (RFC 6352) over HTTP: the calendar and address-book
//! homes (`/dav/calendars/<address>/`, `/dav/addressbooks/<address>/`), their collections
//! and objects. This file dispatches by method and decides access; what the handlers
//! share (namespaces, the OPTIONS answer, precondition error bodies, the principal's
//! properties) is in [`super::calcommon`]. PROPFIND/PROPPATCH are in [`super::calprops`],
//! objects (GET, PUT, DELETE, COPY, MOVE) in [`super::calobjects`], MKCALENDAR, extended
//! MKCOL and a collection's DELETE in [`super::mkcalendar`], REPORT in [`super::report`],
//! scheduling's inbox, outbox and POST in [`super::schedule`].
//!
//! Implementation notes:
//!
//! - Access is decided in one place, [`access`], from the collection's ACL (sharing,
//!   `storage::davstore`): the owner may do everything; anyone else has the rights of its
//!   entry and `anyone`'s, mapped in [`Privileges::of_rights`](super::share::Privileges::of_rights). Without "r" a collection,
//!   its objects and (with nothing readable shared) the home answer 404, as for an address
//!   that does not exist; a reader without the right for a write gets 403
//!   `need-privileges`. Collection changes (PROPPATCH, MKCOL, MKCALENDAR, DELETE of a
//!   collection, the outbox's POST) stay the owner's. Public collections are the empty
//!   owner's, at `/dav/calendars/public/` and `/dav/addressbooks/public/`.
//! - The names `inbox` and `outbox` are kept for scheduling (RFC 6638): a client cannot
//!   make a calendar or an address book of those names (names are unique per account
//!   across both kinds).
//! - Storage calls run on the blocking pool; every write is committed (durable) before the
//!   answer.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::calcommon::{options, ALLOW};
use super::locks::Need;
use super::share::{shared_of, Privileges};
use super::{blocking, calobjects, calprops, mkcalendar, Ctx, DavError, Target};
use crate::storage::davstore::CollectionKind;

/// What `me` may do with `owner`'s home of `kind` (`collection`: `None`) or its collection
/// `collection`: everything for the owner; for anyone else the collection's ACL, or for
/// the home reading when something there is shared with it. Nothing readable: 404
/// (nothing told about what exists).
pub(crate) async fn access(
    ctx: &Ctx,
    me: &str,
    owner: &str,
    kind: CollectionKind,
    collection: Option<&str>,
) -> Result<Privileges, DavError> {
    if me == owner {
        return Ok(Privileges::OWNER);
    }
    let (c, me, owner) = (ctx.get_ref().clone(), me.to_string(), owner.to_string());
    let collection = collection.map(str::to_string);
    blocking(move || {
        let p = match collection {
            None => {
                let any = !shared_of(&c.store, &me, &owner, kind)?.is_empty();
                Privileges {
                    read: any,
                    write: false,
                    delete: false,
                    admin: false,
                    owner: false,
                }
            }
            Some(name) => match c.store.dav_collection(&owner, &name)? {
                Some(col) => Privileges::of_rights(&c.store.dav_rights(&col, &me)?),
                None => return Err(DavError::not_found()),
            },
        };
        if p.read {
            Ok(p)
        } else {
            Err(DavError::not_found())
        }
    })
    .await
}

fn not_allowed(why: &str) -> Result<HttpResponse, DavError> {
    Err(DavError::new(StatusCode::METHOD_NOT_ALLOWED, why))
}

/// A request on a home, collection or object (`target` is one of those three).
pub(crate) async fn handle(
    ctx: &Ctx,
    req: &HttpRequest,
    payload: web::Payload,
    me: &str,
    target: &Target,
) -> Result<HttpResponse, DavError> {
    let (owner, kind, collection) = match target {
        Target::Home { owner, kind } => (owner, *kind, None),
        Target::Collection { owner, kind, name } => (owner, *kind, Some(name.as_str())),
        Target::Object {
            owner,
            kind,
            collection,
            ..
        } => (owner, *kind, Some(collection.as_str())),
        _ => return Err(DavError::not_found()),
    };
    let rights = access(ctx, me, owner, kind, collection).await?;
    let method = req.method().as_str();
    let is_object = matches!(target, Target::Object { .. });
    let allowed = match method {
        "PUT" if is_object => rights.write,
        "LOCK" | "UNLOCK" => rights.write,
        "DELETE" | "MOVE" if is_object => rights.delete,
        "OPTIONS" | "GET" | "HEAD" | "PROPFIND" | "REPORT" => rights.read,
        "COPY" if is_object => rights.read,
        // The collection itself (PROPPATCH, MKCOL, MKCALENDAR, DELETE, ACL, the outbox's
        // POST) is the owner's.
        _ => rights.owner,
    };
    if !allowed {
        return Err(DavError::condition(
            StatusCode::FORBIDDEN,
            "need-privileges",
        ));
    }
    // Locks on what a collection-level write changes (RFC 4918 §7); objects check theirs
    // in `calobjects`.
    if let ("DELETE" | "PROPPATCH" | "ACL", Target::Collection { .. }) = (method, target) {
        if let Some((space, path)) = super::locks::key_of(target) {
            let need = if method == "DELETE" {
                Need::Tree(&path)
            } else {
                Need::Node(&path)
            };
            super::locks::check(req, &space, me, &path, None, &[need])?;
        }
    }
    match (method, target) {
        ("OPTIONS", _) => Ok(options()),
        ("LOCK", Target::Home { .. }) | ("UNLOCK", Target::Home { .. }) => {
            Ok(super::callocks::refused())
        }
        ("LOCK", _) => super::callocks::lock(ctx, req, payload, me, target).await,
        ("UNLOCK", _) => super::callocks::unlock(req, me, target, rights),
        ("PROPFIND", _) => calprops::propfind(ctx, req, payload, me, target, rights).await,
        ("PROPPATCH", _) => calprops::proppatch(ctx, payload, target).await,
        ("ACL", _) => super::acl::set(ctx, payload, target).await,
        ("MKCALENDAR", _) => mkcalendar::make(ctx, payload, target, true).await,
        ("MKCOL", _) => mkcalendar::make(ctx, payload, target, false).await,
        (
            "POST",
            Target::Collection {
                owner,
                kind: CollectionKind::Calendar,
                name,
            },
        ) if name == crate::scheduling::OUTBOX => {
            let body = payload
                .to_bytes_limited(super::schedule::POST_LIMIT)
                .await
                .map_err(|_| DavError::new(StatusCode::PAYLOAD_TOO_LARGE, "too large"))?
                .map_err(|_| DavError::new(StatusCode::BAD_REQUEST, "unreadable body"))?;
            super::schedule::post_outbox(ctx.get_ref(), me, owner, &body).await
        }
        ("REPORT", _) => super::report::report(ctx, req, payload, me, target).await,
        ("DELETE", Target::Collection { owner, kind, name }) => {
            let r = mkcalendar::delete(ctx, owner, *kind, name).await?;
            if let Some((space, path)) = super::locks::key_of(target) {
                super::locks::forget(&space, &path);
            }
            Ok(r)
        }
        ("DELETE", Target::Home { .. }) => Err(DavError::new(
            StatusCode::FORBIDDEN,
            "a home cannot be deleted",
        )),
        (
            "GET" | "HEAD" | "PUT" | "DELETE" | "COPY" | "MOVE",
            Target::Object {
                owner,
                kind,
                collection,
                name,
            },
        ) => {
            let at = calobjects::At {
                owner: owner.clone(),
                kind: *kind,
                collection: collection.clone(),
                name: name.clone(),
            };
            match method {
                "GET" | "HEAD" => calobjects::get(ctx, req, &at).await,
                "PUT" => calobjects::put(ctx, req, payload, me, &at).await,
                "DELETE" => calobjects::delete(ctx, req, me, &at).await,
                "COPY" => calobjects::copy_or_move(ctx, req, me, &at, false).await,
                _ => calobjects::copy_or_move(ctx, req, me, &at, true).await,
            }
        }
        ("GET" | "HEAD", _) => not_allowed("a collection has no body; use PROPFIND or REPORT"),
        _ => Ok(HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, ALLOW))
            .finish()),
    }
}
