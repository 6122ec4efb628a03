//! LOCK and UNLOCK (RFC 4918 §9.10, §9.11) on the file store, over the lock table of
//! `locks`; granting, refreshing and removing a lock ([`grant`], [`refresh`],
//! [`unlock_by`]) are shared with calendars and address books (`callocks`).

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::locks::{table, Lock, MAX_PER_ACCOUNT, MAX_PER_PRINCIPAL, MAX_TIMEOUT};
use super::{blocking, file_href, file_store, files, header_str, xml_body, Ctx, DavError};
use crate::protocols::webdav::headers::{self, Condition, Depth};
use crate::protocols::webdav::multistatus::{prop_body, Prop};
use crate::protocols::webdav::request::{self, LockScope};
use crate::protocols::webdav::PropName;
use crate::storage::davfiles::is_within;

/// A new lock token: a random UUID URN (§6.5).
fn new_token() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-4{}-a{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// LOCK's answer: the `lockdiscovery` of the new or refreshed lock and its token.
pub(crate) fn lock_answer(status: StatusCode, lock: &Lock) -> HttpResponse {
    let body = prop_body(&[Prop {
        name: PropName::dav("lockdiscovery"),
        value: Some(lock.xml()),
    }]);
    HttpResponse::build(status)
        .insert_header(("Lock-Token", format!("<{}>", lock.token)))
        .content_type("application/xml; charset=utf-8")
        .body(body)
}

/// LOCK (§9.10): a new lock, or with no body a refresh of the lock the If header names.
/// A LOCK on an unmapped URL creates an empty resource (§9.10.4; 201).
pub(crate) async fn lock(
    ctx: &Ctx,
    req: &HttpRequest,
    payload: web::Payload,
    me: &str,
    path: &str,
) -> Result<HttpResponse, DavError> {
    let info = request::parse_lockinfo(&xml_body(payload).await?)?;
    let timeout = headers::timeout(header_str(req, "Timeout"), MAX_TIMEOUT).max(1);
    let Some(info) = info else {
        return refresh(req, me, me, path, timeout);
    };
    let depth = headers::depth(header_str(req, "Depth"), Depth::Infinity)?;
    if depth == Depth::One {
        return Err(DavError::new(
            StatusCode::BAD_REQUEST,
            "Depth: 1 is not a lock depth",
        ));
    }
    if path.is_empty() {
        return Err(DavError::new(
            StatusCode::FORBIDDEN,
            "the root of the file store cannot be locked",
        ));
    }
    let (c, m, p) = (ctx.get_ref().clone(), me.to_string(), path.to_string());
    let exists = blocking(move || Ok(file_store(&c)?.dav_get(&m, &p)?.is_some())).await?;
    let lock = grant(
        Place {
            space: me,
            owner: me,
            path,
            href: file_href(me, path, false),
        },
        me,
        info,
        depth == Depth::Infinity,
        timeout,
    )?;
    if exists {
        return Ok(lock_answer(StatusCode::OK, &lock));
    }
    // Unmapped URL: an empty resource, made under the new lock (the token is ours).
    match files::create_empty(ctx, me, path).await {
        Ok(()) => Ok(lock_answer(StatusCode::CREATED, &lock)),
        Err(e) => {
            table().retain(|l| l.token != lock.token);
            Err(e)
        }
    }
}

/// Where a lock goes: its space and path in the lock table (`locks::key_of`), the
/// space's owner and the href its `lockroot` shows.
pub(crate) struct Place<'a> {
    pub space: &'a str,
    /// The account whose home (or file store) the space is.
    pub owner: &'a str,
    pub path: &'a str,
    pub href: String,
}

/// A new write lock at `at` for principal `by`: 423 `no-conflicting-lock` when an
/// exclusive lock (or, for an exclusive request, any lock) overlaps it; 503 past
/// [`MAX_PER_ACCOUNT`] locks in the space, or, for a principal other than its owner (a
/// sharee), past [`MAX_PER_PRINCIPAL`] of its own there (RFC 4918 leaves the status of a
/// refused lock to the server; the body says which limit).
pub(crate) fn grant(
    at: Place<'_>,
    by: &str,
    info: request::LockInfo,
    deep: bool,
    timeout: u64,
) -> Result<Lock, DavError> {
    let (me, path) = (at.space, at.path);
    let mut t = table();
    let conflict = t.iter().any(|l| {
        let overlaps = l.covers(me, path) || (deep && l.account == me && is_within(&l.root, path));
        overlaps && (l.scope == LockScope::Exclusive || info.scope == LockScope::Exclusive)
    });
    if conflict {
        return Err(DavError::condition(
            StatusCode::LOCKED,
            "no-conflicting-lock",
        ));
    }
    if t.iter().filter(|l| l.account == me).count() >= MAX_PER_ACCOUNT {
        return Err(DavError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("too many locks: this home holds {MAX_PER_ACCOUNT}, the most it may"),
        ));
    }
    if by != at.owner
        && t.iter().filter(|l| l.account == me && l.by == by).count() >= MAX_PER_PRINCIPAL
    {
        return Err(DavError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "too many locks: {by} holds {MAX_PER_PRINCIPAL} in {}'s home, the most one \
                 principal other than its owner may; unlock some first",
                at.owner
            ),
        ));
    }
    let lock = Lock {
        token: new_token(),
        account: me.to_string(),
        root: path.to_string(),
        deep,
        scope: info.scope,
        owner: info.owner,
        timeout,
        expires: Instant::now() + Duration::from_secs(timeout),
        href: at.href,
        by: by.to_string(),
    };
    t.push(lock.clone());
    Ok(lock)
}

/// A LOCK without a body: the refresh of the lock the If header names that covers
/// `path` of `me`'s space (412 when none does).
/// Only the principal who took a lock (`who`) refreshes it.
pub(crate) fn refresh(
    req: &HttpRequest,
    me: &str,
    who: &str,
    path: &str,
    timeout: u64,
) -> Result<HttpResponse, DavError> {
    let Some(value) = header_str(req, "If") else {
        return Err(DavError::new(
            StatusCode::BAD_REQUEST,
            "a refresh names its lock in If",
        ));
    };
    let lists = headers::if_header(value)?;
    let mut t = table();
    for c in lists.iter().flat_map(|l| l.conditions.iter()) {
        if let Condition::Token { not: false, token } = c {
            if let Some(l) = t
                .iter_mut()
                .find(|l| &l.token == token && l.covers(me, path) && l.by == who)
            {
                l.timeout = timeout;
                l.expires = Instant::now() + Duration::from_secs(timeout);
                return Ok(lock_answer(StatusCode::OK, l));
            }
        }
    }
    Err(DavError::new(
        StatusCode::PRECONDITION_FAILED,
        "no such lock here",
    ))
}

/// UNLOCK (§9.11): removes the lock whose token the Lock-Token header gives, if it
/// covers the request URI (else 409 `lock-token-matches-request-uri`).
pub(crate) fn unlock(req: &HttpRequest, me: &str, path: &str) -> Result<HttpResponse, DavError> {
    unlock_by(req, me, path, |_| true)
}

/// [`unlock`] in space `me`, of a lock `may` lets the caller remove (else 403
/// `need-privileges`).
pub(crate) fn unlock_by(
    req: &HttpRequest,
    me: &str,
    path: &str,
    may: impl Fn(&Lock) -> bool,
) -> Result<HttpResponse, DavError> {
    let Some(value) = header_str(req, "Lock-Token") else {
        return Err(DavError::new(
            StatusCode::BAD_REQUEST,
            "UNLOCK needs Lock-Token",
        ));
    };
    let token = headers::lock_token(value)?;
    let mut t = table();
    if t.iter()
        .any(|l| l.token == token && l.covers(me, path) && !may(l))
    {
        return Err(DavError::condition(
            StatusCode::FORBIDDEN,
            "need-privileges",
        ));
    }
    let before = t.len();
    t.retain(|l| !(l.token == token && l.covers(me, path)));
    if t.len() == before {
        return Err(DavError::condition(
            StatusCode::CONFLICT,
            "lock-token-matches-request-uri",
        ));
    }
    Ok(HttpResponse::NoContent().finish())
}
