//! Logging in to webmail at `/`, the code step of an account with two-factor login, and
//! logging out. The steps are `http::login_steps`', shared with the dashboard; here any
//! account may log in. A browser remembered at the code step ([`super::remember`]) skips
//! that step once the password step passed.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::http::dashboard::{redirect, render, Chrome, Ctx};
use crate::http::login_steps::{self, Refusal};
use crate::http::session;

use super::remember::{self, Presented};

#[derive(Template)]
#[template(path = "mail/login.html")]
struct LoginPage {
    chrome: Chrome,
    address: String,
    error: String,
}

#[derive(Template)]
#[template(path = "mail/code.html")]
struct CodePage {
    chrome: Chrome,
    address: String,
    error: String,
    /// `[http] remember_device_days`: the checkbox is shown when it is not 0.
    remember_days: u32,
}

/// The value of a form field (`form_urlencoded`), "" when absent.
pub(super) fn field(body: &web::Bytes, name: &str) -> String {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn login_page(req: &HttpRequest, address: &str, refusal: Option<Refusal>) -> HttpResponse {
    let t = LoginPage {
        chrome: Chrome::anonymous(req, "/"),
        address: address.to_string(),
        error: refusal
            .as_ref()
            .map(|r| r.message.clone())
            .unwrap_or_default(),
    };
    let mut resp = render(req, &t.chrome, &t);
    match refusal {
        Some(r) => {
            *resp.status_mut() = r.status;
            login_steps::with_retry_after(resp, r.retry_after)
        }
        None => resp,
    }
}

fn see_other(to: &str, cookie: actix_web::cookie::Cookie<'static>) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .cookie(cookie)
        .finish()
}

/// `GET /`: the login page, or the mailbox when already logged in.
pub async fn home(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    match session::current(&ctx, &req) {
        Some(s) if s.mfa_done => redirect("/mail"),
        _ => login_page(&req, "", None),
    }
}

/// `POST /login`: address and password; on to the code step when the account has TOTP.
pub async fn submit(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let address = field(&body, "address").trim().to_lowercase();
    let password = field(&body, "password");
    let started = match login_steps::password(ctx.get_ref(), &req, &address, &password).await {
        Ok(s) => s,
        Err(r) => return login_page(&req, &address, Some(r)),
    };
    // Only now, with the password right, is a device token looked at.
    let device = remember::presented(&ctx, &req, &started.login.address).await;
    let mut resp = match (started.login.needs_totp, device) {
        (true, Presented::Remembered) => {
            let full = session::start(&ctx, &req, &started.login.address, true);
            see_other("/mail", full)
        }
        (true, _) => see_other("/login/code", started.cookie),
        (false, _) => see_other("/mail", started.cookie),
    };
    if device == Presented::Stale {
        if let Err(e) = resp.add_cookie(&remember::removal()) {
            tracing::warn!("webmail: cannot remove a device cookie: {e}");
        }
    }
    resp
}

/// `GET /login/code`.
pub async fn code_form(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    let Some(address) = login_steps::pending(&ctx, &req) else {
        return redirect("/");
    };
    let t = CodePage {
        chrome: Chrome::anonymous(&req, "/"),
        address,
        error: String::new(),
        remember_days: remember::days(&ctx),
    };
    render(&req, &t.chrome, &t)
}

/// `POST /login/code`: a TOTP or recovery code; a wrong one counts as a failed login.
pub async fn code_submit(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(address) = login_steps::pending(&ctx, &req) else {
        return redirect("/");
    };
    let code = field(&body, "code");
    match login_steps::code(ctx.get_ref(), &req, &address, code.trim()).await {
        Ok(cookie) => {
            let mut resp = see_other("/mail", cookie);
            if field(&body, "remember") == "on" {
                if let Some(device) = remember::remember(&ctx, &req, &address).await {
                    if let Err(e) = resp.add_cookie(&device) {
                        tracing::warn!("webmail: cannot set the device cookie: {e}");
                    }
                }
            }
            resp
        }
        Err(r) => {
            let t = CodePage {
                chrome: Chrome::anonymous(&req, "/"),
                address,
                error: r.message,
                remember_days: remember::days(&ctx),
            };
            let mut resp = render(&req, &t.chrome, &t);
            *resp.status_mut() = r.status;
            login_steps::with_retry_after(resp, r.retry_after)
        }
    }
}

/// `POST /logout` (with the CSRF token, like every form).
pub async fn logout(req: HttpRequest) -> HttpResponse {
    see_other("/", session::end(&req))
}
