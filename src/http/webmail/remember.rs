//! "Remember this device" (issue 14): a webmail login of an account with two-factor login
//! may leave a long-lived token in the browser, so that later logins from it need only the
//! password. The password is always asked, and the token is looked at only after the
//! password step passed: it never lets a wrong password, a disabled account or a screened
//! address in, and failed logins feed the failure limit and screening exactly as before.
//!
//! Implementation notes:
//!
//! - The token is `<id>.<secret>`: 8 random bytes as 16 hex digits, a dot, 32 random bytes
//!   in unpadded base64url. The store keeps the id, the SHA-256 of the secret (compared in
//!   constant time), the account, when it was made, last used and expires, and a label from
//!   the User-Agent (`storage::devices`). Records are keyed by (account, id): a token opens
//!   only the account that made it.
//! - Its cookie, [`COOKIE`], is HttpOnly, SameSite=Strict, Path=/, Secure on TLS listeners,
//!   with Max-Age = `[http] remember_device_days`; the record expires at the same moment.
//!   0 days turns the feature off: no checkbox, no token made, none accepted.
//! - A token that does not open (unknown, forgotten, expired, garbled, another account's)
//!   is ignored and its cookie removed; an expired record is deleted when presented, and
//!   when the account remembers another device. An account keeps at most [`MAX_DEVICES`]:
//!   a new one replaces the least recently used.
//! - Revoked by the user in `/settings/devices` (one or all), and all of an account's at
//!   once by a password change (webmail settings, console `account passwd`, the API) and by
//!   two-factor login turned off (webmail settings, console `account 2fa reset`, the API's
//!   console line, the dashboard's button: all `admin::twofa::reset`). Deleting the
//!   account deletes them with it.

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::{web, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::actors::ServerContext;
use crate::http::dashboard::Ctx;
use crate::http::session;
use crate::storage::{DeviceRecord, StorageError};

/// The cookie's name.
pub const COOKIE: &str = "fm_device";
/// Seconds per day of `[http] remember_device_days`.
const DAY: u64 = 86_400;
/// Devices remembered per account at most: a new one replaces the least recently used.
pub const MAX_DEVICES: usize = 20;
/// Longest label kept (characters).
const LABEL_MAX: usize = 80;

/// What the request's device cookie says about `account` after a right password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// No device cookie (or the feature is off).
    Absent,
    /// A live token of this account: the code step may be skipped.
    Remembered,
    /// A cookie that does not open: ignore it and remove it.
    Stale,
}

/// `[http] remember_device_days` (0: off).
pub fn days(ctx: &ServerContext) -> u32 {
    ctx.config().http.remember_device_days
}

/// Checks the request's device cookie for `account` (whose password was just right); a
/// live token's last use is recorded, an expired one deleted. Storage failures count as
/// [`Presented::Absent`] (the code is asked, the cookie kept for later).
pub async fn presented(ctx: &Ctx, req: &HttpRequest, account: &str) -> Presented {
    let Some(value) = req.cookie(COOKIE).map(|c| c.value().to_string()) else {
        return Presented::Absent;
    };
    if days(ctx) == 0 {
        return Presented::Absent;
    }
    let Some((id, secret)) = parse(&value) else {
        return Presented::Stale;
    };
    let (sctx, account) = (ctx.get_ref().clone(), account.to_string());
    let checked = web::block(move || check(&sctx, &account, &id, &secret)).await;
    match checked {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            tracing::warn!("webmail: remembered device check: {e}");
            Presented::Absent
        }
        Err(e) => {
            tracing::error!("webmail: blocking call failed: {e}");
            Presented::Absent
        }
    }
}

fn check(
    ctx: &ServerContext,
    account: &str,
    id: &str,
    secret: &[u8],
) -> Result<Presented, StorageError> {
    let Some(device) = ctx.store.device_get(account, id)? else {
        return Ok(Presented::Stale);
    };
    let now = unix_now(ctx);
    if now >= device.expires {
        ctx.store.device_delete(account, id)?;
        return Ok(Presented::Stale);
    }
    if !bool::from(device.digest.as_slice().ct_eq(&digest(secret))) {
        return Ok(Presented::Stale);
    }
    ctx.store.device_touch(account, id, now)?;
    Ok(Presented::Remembered)
}

/// Remembers the request's browser for `account` (its code was just right): the cookie
/// to set, or `None` when the feature is off or the record could not be stored (logged;
/// the login itself goes on).
pub async fn remember(ctx: &Ctx, req: &HttpRequest, account: &str) -> Option<Cookie<'static>> {
    let days = days(ctx);
    if days == 0 {
        return None;
    }
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut id);
    rand::thread_rng().fill_bytes(&mut secret);
    let now = unix_now(ctx);
    let device = DeviceRecord {
        account: account.to_string(),
        id: hex::encode(id),
        digest: digest(&secret),
        label: label_of(
            req.headers()
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        ),
        created: now,
        last_used: now,
        expires: now.saturating_add(u64::from(days) * DAY),
    };
    let value = format!("{}.{}", device.id, URL_SAFE_NO_PAD.encode(secret));
    let sctx = ctx.get_ref().clone();
    let stored = web::block(move || {
        make_room(&sctx, &device.account, now)?;
        sctx.store.device_add(&device)?;
        sctx.store.commit()
    })
    .await;
    match stored {
        Ok(Ok(())) => Some(
            Cookie::build(COOKIE, value)
                .path("/")
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(session::tls(req))
                .max_age(time::Duration::days(i64::from(days)))
                .finish(),
        ),
        Ok(Err(e)) => {
            tracing::warn!("webmail: cannot remember a device of {account}: {e}");
            None
        }
        Err(e) => {
            tracing::error!("webmail: blocking call failed: {e}");
            None
        }
    }
}

/// Before a new device of `account`: deletes its expired devices, and its least recently
/// used ones beyond [`MAX_DEVICES`] - 1, so that an account's records stay few however often
/// its user ticks the box (a token never presented again is otherwise never looked at).
fn make_room(ctx: &ServerContext, account: &str, now: u64) -> Result<(), StorageError> {
    let mut live = Vec::new();
    for d in ctx.store.device_list(Some(account))? {
        if now >= d.expires {
            ctx.store.device_delete(account, &d.id)?;
        } else {
            live.push(d);
        }
    }
    live.sort_by_key(|d| std::cmp::Reverse(d.last_used));
    for d in live.iter().skip(MAX_DEVICES - 1) {
        ctx.store.device_delete(account, &d.id)?;
    }
    Ok(())
}

/// The cookie that removes the browser's device token.
pub fn removal() -> Cookie<'static> {
    let mut c = Cookie::build(COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    c.make_removal();
    c
}

/// The id of the request's device token, when it has a well-formed one.
pub fn presented_id(req: &HttpRequest) -> Option<String> {
    parse(req.cookie(COOKIE)?.value()).map(|(id, _)| id)
}

/// `<16 lowercase hex>.<32 bytes base64url>` → (id, secret).
fn parse(value: &str) -> Option<(String, Vec<u8>)> {
    let (id, secret) = value.split_once('.')?;
    let id_ok = id.len() == 16 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let secret = URL_SAFE_NO_PAD.decode(secret).ok()?;
    (id_ok && secret.len() == 32).then(|| (id.to_string(), secret))
}

fn digest(secret: &[u8]) -> Vec<u8> {
    Sha256::digest(secret).to_vec()
}

fn unix_now(ctx: &ServerContext) -> u64 {
    u64::try_from(ctx.clock.now()).unwrap_or(0)
}

/// A short name for the browser a User-Agent describes ("Firefox on Linux"), so that the
/// user can tell remembered devices apart; the header itself (cut short) when it names no
/// browser or system this knows.
pub fn label_of(user_agent: &str) -> String {
    // Order matters: Edge and Opera say Chrome, Chrome says Safari, Android says Linux.
    const BROWSERS: [(&str, &str); 6] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ];
    const SYSTEMS: [(&str, &str); 7] = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    let find = |table: &[(&str, &'static str)]| {
        table
            .iter()
            .find(|(needle, _)| user_agent.contains(needle))
            .map(|(_, name)| *name)
    };
    let headless = user_agent.contains("Headless");
    match (find(&BROWSERS), find(&SYSTEMS)) {
        (Some(b), Some(s)) if headless => format!("{b} (headless) on {s}"),
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) => {
            let cut: String = user_agent.trim().chars().take(LABEL_MAX).collect();
            if cut.is_empty() {
                "An unnamed browser".into()
            } else {
                cut
            }
        }
    }
}
