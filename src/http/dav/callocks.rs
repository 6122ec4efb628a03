//! LOCK and UNLOCK (RFC 4918 class 2) on calendars, address books and their objects, over
//! the same lock table and code as the file store (`locks`, `lockreq`): a lock's space is
//! the home's (`locks::key_of`), so every principal reaching a shared collection sees its
//! locks. Writes check them in `calobjects` (PUT, DELETE, COPY/MOVE) and `cal` (a
//! collection's DELETE and PROPPATCH): 423 `lock-token-submitted` without the token.
//!
//! Implementation notes:
//!
//! - LOCK needs the right to write there (`w`+`i`, the owner); UNLOCK is for the principal
//!   that took the lock and for the collection's owner (403 `need-privileges` otherwise).
//! - A LOCK on an object name that does not exist locks the name (200) and creates nothing:
//!   an empty resource is no valid calendar object or vCard (RFC 4791 §4.1, RFC 6352 §5.1).
//!   The PUT that then creates it must submit the token, as any PUT under the lock.
//! - Homes, the root and principals are not lockable (405).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::calcommon::{find_collection, ALLOW};
use super::lockreq::{grant, lock_answer, refresh, unlock_by, Place};
use super::locks::{key_of, MAX_TIMEOUT};
use super::share::Privileges;
use super::{blocking, collection_href, header_str, object_href, xml_body, Ctx, DavError, Target};
use crate::protocols::webdav::headers::{self, Depth};
use crate::protocols::webdav::request;

fn not_lockable() -> DavError {
    DavError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "only calendars, address books and their objects are locked",
    )
}

/// LOCK on a collection or object `target` (access checked by `cal::handle`).
pub(crate) async fn lock(
    ctx: &Ctx,
    req: &HttpRequest,
    payload: web::Payload,
    me: &str,
    target: &Target,
) -> Result<HttpResponse, DavError> {
    let (space, path) = key_of(target).ok_or_else(not_lockable)?;
    let info = request::parse_lockinfo(&xml_body(payload).await?)?;
    let timeout = headers::timeout(header_str(req, "Timeout"), MAX_TIMEOUT).max(1);
    let Some(info) = info else {
        return refresh(req, &space, me, &path, timeout);
    };
    let depth = headers::depth(header_str(req, "Depth"), Depth::Infinity)?;
    if depth == Depth::One {
        return Err(DavError::new(
            StatusCode::BAD_REQUEST,
            "Depth: 1 is not a lock depth",
        ));
    }
    let href = match target.clone() {
        Target::Collection { owner, kind, name } => {
            let c = ctx.get_ref().clone();
            let (o, n) = (owner.clone(), name.clone());
            blocking(move || find_collection(&c.store, &o, kind, &n))
                .await?
                .ok_or_else(DavError::not_found)?;
            collection_href(&owner, kind, &name)
        }
        Target::Object {
            owner,
            kind,
            collection,
            name,
        } => {
            let c = ctx.get_ref().clone();
            let (o, cn) = (owner.clone(), collection.clone());
            blocking(move || find_collection(&c.store, &o, kind, &cn))
                .await?
                .ok_or_else(|| DavError::new(StatusCode::CONFLICT, "no such collection"))?;
            object_href(&owner, kind, &collection, &name)
        }
        _ => return Err(not_lockable()),
    };
    let owner = match target {
        Target::Collection { owner, .. } | Target::Object { owner, .. } => owner.as_str(),
        _ => return Err(not_lockable()),
    };
    let place = Place {
        space: &space,
        owner,
        path: &path,
        href,
    };
    let lock = grant(place, me, info, depth == Depth::Infinity, timeout)?;
    Ok(lock_answer(StatusCode::OK, &lock))
}

/// UNLOCK on a collection or object: the lock's taker or the owner.
pub(crate) fn unlock(
    req: &HttpRequest,
    me: &str,
    target: &Target,
    rights: Privileges,
) -> Result<HttpResponse, DavError> {
    let (space, path) = key_of(target).ok_or_else(not_lockable)?;
    unlock_by(req, &space, &path, |l| rights.owner || l.by == me)
}

/// 405 with the Allow header for what cannot be locked.
pub(crate) fn refused() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, ALLOW))
        .finish()
}
