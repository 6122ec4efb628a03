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
//! - Access is decided in one place, [`access`]: the owner only for now (another account's
//!   home, collection or object answers 404, as for an address that does not exist).
//!   Sharing will widen it there.
//! - The names `inbox` and `outbox` are kept for scheduling (RFC 6638): a client cannot
//!   make a calendar or an address book of those names (names are unique per account
//!   across both kinds).
//! - Storage calls run on the blocking pool; every write is committed (durable) before the
//!   answer.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::calcommon::{options, ALLOW};
use super::{calobjects, calprops, mkcalendar, Ctx, DavError, Target};
use crate::storage::davstore::CollectionKind;

/// What a caller may do with a home or collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Privileges {
    pub read: bool,
    pub write: bool,
}

/// Whether `me` reaches `owner`'s home or its collection `collection`: the owner only for
/// now (everything); anyone else gets 404 (nothing told about what exists).
pub(crate) fn access(
    _ctx: &Ctx,
    me: &str,
    owner: &str,
    _collection: Option<&str>,
) -> Result<Privileges, DavError> {
    if me == owner {
        Ok(Privileges {
            read: true,
            write: true,
        })
    } else {
        Err(DavError::not_found())
    }
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
    let (owner, collection) = match target {
        Target::Home { owner, .. } => (owner, None),
        Target::Collection { owner, name, .. } => (owner, Some(name.as_str())),
        Target::Object {
            owner, collection, ..
        } => (owner, Some(collection.as_str())),
        _ => return Err(DavError::not_found()),
    };
    let rights = access(ctx, me, owner, collection)?;
    let method = req.method().as_str();
    if !rights.write
        && matches!(
            method,
            "PUT" | "DELETE" | "PROPPATCH" | "MKCOL" | "MKCALENDAR" | "MOVE"
        )
    {
        return Err(DavError::condition(
            StatusCode::FORBIDDEN,
            "need-privileges",
        ));
    }
    match (method, target) {
        ("OPTIONS", _) => Ok(options()),
        ("PROPFIND", _) => calprops::propfind(ctx, req, payload, me, target).await,
        ("PROPPATCH", _) => calprops::proppatch(ctx, payload, target).await,
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
            mkcalendar::delete(ctx, owner, *kind, name).await
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
