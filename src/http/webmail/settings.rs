//! `/settings`: the logged-in account's webmail preferences ([`super::prefs`]: display
//! name, signature, time zone), its password and its two-factor login.
//!
//! Implementation notes:
//!
//! - Every form posts to `/settings` with an `action` and the CSRF token; the answer is a
//!   redirect back with a flash message (post/redirect/get), never a page holding a
//!   secret.
//! - A password change needs the current password, checked by `http::login::check` like a
//!   login (so a wrong one counts against `[http] login_failures` and screening, and a
//!   stolen session cannot brute-force it), then goes through `Store::set_password` and a
//!   commit, the path of the console's `account passwd`: the credential cache
//!   (`actors::credential_cache`) compares the stored record, so the old password stops
//!   working for IMAP, POP3 and SMTP at once. It also forgets the account's remembered
//!   devices (`super::remember`), as turning two-factor login off does.
//! - Two-factor login is the dashboard's (`admin::twofa`, as its `/twofa` page and the
//!   console's `account 2fa`): `2fa-begin` answers a page with the secret and its QR code,
//!   `2fa-confirm` one with the recovery codes (pages, not redirects: a secret never goes
//!   into a cookie or a URL). Turning it off needs the current password, checked as for a
//!   password change.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::login::field;
use super::prefs::{self, Prefs};
use super::{call, to_login, user, MailError};
use crate::http::dashboard::{redirect_with, render, Chrome, Ctx};
use crate::http::login::{self, LoginError};
use crate::http::login_steps::peer;

/// Shortest new password accepted (characters).
pub const MIN_PASSWORD: usize = 8;

#[derive(Template)]
#[template(path = "mail/settings.html")]
struct SettingsPage {
    chrome: Chrome,
    css: String,
    prefs: Prefs,
    /// "now" in the user's zone, so they see what the zone does.
    now: String,
    zones: Vec<&'static str>,
    /// Two-factor login is on.
    twofa_on: bool,
    /// During enrolment: the secret, its otpauth URI and the URI's QR code (SVG).
    secret: String,
    uri: String,
    qr_svg: String,
    /// After confirmation: the recovery codes, shown this once.
    recovery: Vec<String>,
    /// What went wrong in a two-factor step (shown on the page it answers).
    error: String,
}

impl SettingsPage {
    /// The page for `me` as stored now.
    async fn load(ctx: &Ctx, req: &HttpRequest, me: String) -> Result<SettingsPage, MailError> {
        let who = me.clone();
        let (prefs, now, twofa_on) = call(ctx, move |b| {
            use crate::protocols::imap::backend::Backend;
            let on = crate::admin::twofa::status(&b.ctx.store, &who)
                .map_err(|e| {
                    tracing::warn!("webmail: two-factor state of {who}: {e}");
                    MailError::Unavailable
                })?
                .enabled;
            Ok((prefs::load(b, &who)?, b.now(), on))
        })
        .await?;
        let mut chrome = Chrome::anonymous(req, "/settings");
        chrome.who = me;
        Ok(SettingsPage {
            chrome,
            css: crate::http::dashboard::asset_url("mail.css"),
            now: prefs::format_for(&prefs, now),
            prefs,
            zones: chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect(),
            twofa_on,
            secret: String::new(),
            uri: String::new(),
            qr_svg: String::new(),
            recovery: Vec::new(),
            error: String::new(),
        })
    }
}

/// `GET /settings`.
pub async fn page(ctx: Ctx, req: HttpRequest) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let t = SettingsPage::load(&ctx, &req, me).await?;
    Ok(render(&req, &t.chrome, &t))
}

/// `POST /settings`: `action=prefs` (display_name, signature, time_zone),
/// `action=password` (old, new, confirm), `2fa-begin`, `2fa-confirm` (code) or
/// `2fa-off` (old: the current password).
pub async fn submit(
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let result = match field(&body, "action").as_str() {
        "prefs" => save_prefs(&ctx, me, &body).await,
        "password" => change_password(&ctx, &req, me, &body).await,
        "2fa-off" => match current_password(&ctx, &req, &me, &field(&body, "old")).await {
            Ok(()) => twofa_off(&ctx, me).await,
            Err(e) => Err(e),
        },
        "2fa-begin" | "2fa-confirm" => return twofa_step(&ctx, &req, me, &body).await,
        other => Err(format!("unknown action {other:?}")),
    };
    Ok(redirect_with(&req, "/settings", result))
}

/// The enrolment steps, answered with the page itself (the secret or the recovery codes
/// on it, nowhere else).
async fn twofa_step(
    ctx: &Ctx,
    req: &HttpRequest,
    me: String,
    body: &web::Bytes,
) -> Result<HttpResponse, MailError> {
    let (sctx, who) = (ctx.get_ref().clone(), me.clone());
    let begin = field(body, "action") == "2fa-begin";
    let code = field(body, "code");
    let outcome = web::block(move || {
        if begin {
            crate::admin::twofa::begin(&sctx.store, &who).map(Ok)
        } else {
            crate::admin::twofa::confirm(&sctx.store, &who, &code).map(Err)
        }
    })
    .await
    .map_err(|e| {
        tracing::error!("webmail: blocking call failed: {e}");
        MailError::Unavailable
    })?;
    let mut t = SettingsPage::load(ctx, req, me).await?;
    match outcome {
        Ok(Ok(e)) => {
            t.qr_svg = crate::http::dashboard::qr_svg(&e.otpauth_uri);
            t.secret = e.secret_base32;
            t.uri = e.otpauth_uri;
        }
        Ok(Err(codes)) => t.recovery = codes,
        Err(e) => t.error = e,
    }
    Ok(render(req, &t.chrome, &t))
}

async fn twofa_off(ctx: &Ctx, me: String) -> Result<String, String> {
    let sctx = ctx.get_ref().clone();
    match web::block(move || crate::admin::twofa::reset(&sctx.store, &me)).await {
        Ok(Ok(())) => Ok("Two-factor login is off.".into()),
        Ok(Err(e)) => Err(e),
        Err(e) => {
            tracing::error!("webmail: blocking call failed: {e}");
            Err("Two-factor login was not changed; try again later.".into())
        }
    }
}

/// Checks `me`'s current password as a login does (counted against the failure limit).
async fn current_password(ctx: &Ctx, req: &HttpRequest, me: &str, old: &str) -> Result<(), String> {
    match login::check(ctx.get_ref(), peer(req), me, old, None).await {
        Ok(_) => Ok(()),
        Err(LoginError::Limited { retry_after_secs }) => Err(format!(
            "Too many failed attempts: try again in {retry_after_secs} s."
        )),
        Err(LoginError::Unavailable) => {
            Err("The password cannot be checked now; try again later.".into())
        }
        Err(_) => Err("The current password is not right.".into()),
    }
}

async fn save_prefs(ctx: &Ctx, me: String, body: &web::Bytes) -> Result<String, String> {
    let p = Prefs {
        display_name: field(body, "display_name"),
        signature: field(body, "signature"),
        time_zone: field(body, "time_zone"),
    };
    call(ctx, move |b| prefs::save(b, &me, p))
        .await
        .map(|_| "Settings saved.".to_string())
        .map_err(|e| e.to_string())
}

async fn change_password(
    ctx: &Ctx,
    req: &HttpRequest,
    me: String,
    body: &web::Bytes,
) -> Result<String, String> {
    let (old, new) = (field(body, "old"), field(body, "new"));
    if new != field(body, "confirm") {
        return Err("The new password and its repetition differ.".into());
    }
    if new.chars().count() < MIN_PASSWORD {
        return Err(format!(
            "A password has at least {MIN_PASSWORD} characters."
        ));
    }
    current_password(ctx, req, &me, &old).await?;
    let sctx = ctx.get_ref().clone();
    let done = web::block(move || {
        sctx.store.set_password(&me, &new)?;
        // A new password forgets every remembered device (`super::remember`).
        sctx.store.device_delete_all(&me)?;
        sctx.store.commit()
    })
    .await;
    match done {
        Ok(Ok(())) => Ok("Password changed.".into()),
        Ok(Err(e)) => {
            tracing::warn!("webmail: password change: {e}");
            Err(format!("The password was not changed: {e}"))
        }
        Err(e) => {
            tracing::error!("webmail: blocking call failed: {e}");
            Err("The password was not changed; try again later.".into())
        }
    }
}
