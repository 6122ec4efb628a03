//! Browser sessions in a cookie: `fm_session` (webmail and DAV on `http`/`https`) or
//! `fm_admin` (the dashboard on `admin`) holds the session's data sealed with
//! ChaCha20-Poly1305 (encrypted and authenticated), so the server keeps no session table
//! and any node of a cluster opens any node's cookie.
//!
//! The key is derived from the store's secret key (`FetchStore::derived_key`, purpose
//! "web session v1", or "admin session v1" on the admin listener): the embedded backend's
//! key file or the key PostgreSQL keeps, so it is the same on every node and survives
//! restarts, and it is not the key of any other secret. Browsers ignore ports for cookies,
//! so the two listeners' cookies differ in name and key: a webmail login (and its
//! "remember this device", which skips the second factor) never opens the dashboard.
//! A session ends `[http] session_idle` after its last use and `session_max` after its
//! login, whichever comes first; the last use is refreshed in the cookie at most once a
//! minute ([`refresh`]). It also ends when the account's stored record changes (a new
//! password, admin rights changed, the account deleted): the cookie carries part of the
//! record's digest (`account_stamp`), checked on every request.
//!
//! The cookie is HttpOnly, SameSite=Strict, Path=/, and Secure on TLS listeners; it has no
//! Max-Age, so the browser drops it when it closes.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::front::{Front, Listener};
use crate::actors::ServerContext;

/// The cookie's name on the public web listeners (`http`, `https`).
pub const COOKIE: &str = "fm_session";
/// The cookie's name on the `admin` listener.
pub const ADMIN_COOKIE: &str = "fm_admin";
const NONCE_LEN: usize = 12;

/// The cookie name, key purpose (changing it ends every session) and associated data of
/// one listener's sessions.
struct Flavour {
    name: &'static str,
    purpose: &'static str,
    aad: &'static [u8],
}

const PUBLIC: Flavour = Flavour {
    name: COOKIE,
    purpose: "web session v1",
    aad: b"ferrymail web session v1",
};
const ADMIN: Flavour = Flavour {
    name: ADMIN_COOKIE,
    purpose: "admin session v1",
    aad: b"ferrymail admin session v1",
};

/// The sessions of the listener `req` came on (public without a `Front`).
fn flavour(req: &HttpRequest) -> &'static Flavour {
    match req.app_data::<web::Data<Front>>() {
        Some(front) if front.listener == Listener::Admin => &ADMIN,
        _ => &PUBLIC,
    }
}

/// The session cookie's name on the listener `req` came on.
pub fn cookie_name(req: &HttpRequest) -> &'static str {
    flavour(req).name
}
/// The last use is written back into the cookie at most this often (seconds).
pub const REFRESH_AFTER: i64 = 60;

/// What a session cookie says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionData {
    /// The account logged in (lowercase).
    pub address: String,
    /// The CSRF token of this session (`http::csrf`).
    pub csrf: String,
    /// Unix seconds of the login.
    pub issued: i64,
    /// Unix seconds of the last use (refreshed at most every [`REFRESH_AFTER`]).
    pub last_seen: i64,
    /// Whether the second factor was given (or the account has none).
    pub mfa_done: bool,
}

/// The sealed content: the data and a prefix of the account record's digest.
#[derive(Serialize, Deserialize)]
struct Sealed {
    data: SessionData,
    stamp: String,
}

/// A new session for `address` (just logged in): the cookie to set on the answer. When the
/// session key cannot be had (storage down) the answer is a removal cookie and the error is
/// logged: the browser is simply not logged in.
pub fn start(
    ctx: &ServerContext,
    req: &HttpRequest,
    address: &str,
    mfa_done: bool,
) -> Cookie<'static> {
    let now = ctx.clock.now();
    let mut csrf = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut csrf);
    let data = SessionData {
        address: address.to_ascii_lowercase(),
        csrf: URL_SAFE_NO_PAD.encode(csrf),
        issued: now,
        last_seen: now,
        mfa_done,
    };
    match seal(ctx, flavour(req), &data) {
        Some(value) => cookie(req, value),
        None => end(req),
    }
}

/// The cookie that ends the session (logout) on the listener `req` came on.
pub fn end(req: &HttpRequest) -> Cookie<'static> {
    let mut c = Cookie::build(cookie_name(req), "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    c.make_removal();
    c
}

/// The request's session, if its cookie is genuine, unexpired and the account unchanged.
pub fn current(ctx: &ServerContext, req: &HttpRequest) -> Option<SessionData> {
    let f = flavour(req);
    let value = req.cookie(f.name)?;
    open(ctx, f, value.value())
}

/// Opens and checks a cookie value (see [`current`]).
fn open(ctx: &ServerContext, f: &Flavour, value: &str) -> Option<SessionData> {
    let raw = URL_SAFE_NO_PAD.decode(value).ok()?;
    if raw.len() < NONCE_LEN {
        return None;
    }
    let cipher = cipher(ctx, f)?;
    let (nonce, body) = raw.split_at(NONCE_LEN);
    let plain = cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: f.aad,
            },
        )
        .ok()?;
    let sealed: Sealed = serde_json::from_slice(&plain).ok()?;
    let data = sealed.data;
    let http = &ctx.config().http;
    let now = ctx.clock.now();
    let idle = i64::try_from(http.session_idle.as_secs()).unwrap_or(i64::MAX);
    let max = i64::try_from(http.session_max.as_secs()).unwrap_or(i64::MAX);
    if now.saturating_sub(data.last_seen) > idle || now.saturating_sub(data.issued) > max {
        return None;
    }
    (account_stamp(ctx, &data.address)? == sealed.stamp).then_some(data)
}

/// Seals `data` into a cookie value (with the account's current stamp).
fn seal(ctx: &ServerContext, f: &Flavour, data: &SessionData) -> Option<String> {
    let cipher = cipher(ctx, f)?;
    let stamp = account_stamp(ctx, &data.address)?;
    let plain = serde_json::to_vec(&Sealed {
        data: data.clone(),
        stamp,
    })
    .ok()?;
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let body = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: f.aad,
            },
        )
        .ok()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&body);
    Some(URL_SAFE_NO_PAD.encode(out))
}

fn cipher(ctx: &ServerContext, f: &Flavour) -> Option<ChaCha20Poly1305> {
    match ctx.store.derived_key(f.purpose) {
        Ok(key) => Some(ChaCha20Poly1305::new(Key::from_slice(&key))),
        Err(e) => {
            tracing::error!("web sessions: cannot read the session key: {e}");
            None
        }
    }
}

/// The first 16 bytes of the account record's digest, hex; `None` when the account is gone
/// or cannot be read.
fn account_stamp(ctx: &ServerContext, address: &str) -> Option<String> {
    match ctx.store.account_stamp(address) {
        Ok(Some((_, stamp))) => Some(hex::encode(&stamp[..16])),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("web sessions: cannot read account {address}: {e}");
            None
        }
    }
}

/// Whether the request came on a TLS listener (its cookies are then Secure).
pub(crate) fn tls(req: &HttpRequest) -> bool {
    match req.app_data::<web::Data<Front>>() {
        Some(front) => front.tls(),
        None => req.connection_info().scheme() == "https",
    }
}

/// The session cookie carrying `value`, Secure when the listener is TLS.
fn cookie(req: &HttpRequest, value: String) -> Cookie<'static> {
    Cookie::build(cookie_name(req), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(tls(req))
        .finish()
}

/// Middleware: writes the session's last use back into the cookie (at most once a
/// minute), and removes a cookie that no longer opens (expired, forged, account changed).
/// A handler that set the cookie itself (login, logout) is left alone.
pub async fn refresh(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let ctx = req
        .app_data::<web::Data<Arc<ServerContext>>>()
        .map(|d| d.get_ref().clone());
    let f = flavour(req.request());
    let presented = req.cookie(f.name).map(|c| c.value().to_string());
    let renewed = match (&ctx, presented) {
        (Some(ctx), Some(value)) => Some(match open(ctx, f, &value) {
            Some(mut data) => {
                let now = ctx.clock.now();
                if now - data.last_seen >= REFRESH_AFTER {
                    data.last_seen = now;
                    seal(ctx, f, &data).map(|v| cookie(req.request(), v))
                } else {
                    None
                }
            }
            None => Some(end(req.request())),
        }),
        _ => None,
    }
    .flatten();
    let mut res = next.call(req).await?;
    if let Some(c) = renewed {
        if !res.response().cookies().any(|c| c.name() == f.name) {
            res.response_mut().add_cookie(&c)?;
        }
    }
    Ok(res)
}
