//! Logging in and out of the dashboard, and an admin's own two-factor setup.
//!
//! Login is two steps for an account with TOTP: the password (checked by
//! `http::login::check`, which limits failures per address and feeds screening) opens a
//! session marked "second factor pending", which no page accepts; the code step checks a
//! TOTP or recovery code (`http::login::second_factor`) and marks it done. A wrong code
//! counts as a failed login, as a wrong password does.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::forms::Form;
use super::{gate, redirect, redirect_with, render, Chrome, Ctx, Need};
use crate::http::login_steps;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    address: String,
    error: String,
}

#[derive(Template)]
#[template(path = "login_code.html")]
struct CodePage {
    chrome: Chrome,
    address: String,
    error: String,
}

fn login_page(req: &HttpRequest, address: &str, error: &str, status: StatusCode) -> HttpResponse {
    let chrome = Chrome::anonymous(req, "/login");
    let t = LoginPage {
        chrome,
        address: address.to_string(),
        error: error.to_string(),
    };
    let mut resp = render(req, &t.chrome, &t);
    *resp.status_mut() = status;
    resp
}

/// `GET /login`.
pub async fn form(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    if let Ok(Some(_)) = crate::http::auth::principal(&ctx, &req).await {
        return redirect("/");
    }
    login_page(&req, "", "", StatusCode::OK)
}

/// `POST /login`: address and password (the steps of `http::login_steps`); an account
/// that administers nothing is refused here (webmail is its place).
pub async fn submit(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let f = Form::parse(&body);
    let address = f.get("address").to_lowercase();
    match login_steps::password(ctx.get_ref(), &req, &address, f.raw("password")).await {
        Ok(started) => {
            if started.login.role == crate::http::auth::Role::User {
                return login_page(
                    &req,
                    &address,
                    "This account does not administer anything.",
                    StatusCode::FORBIDDEN,
                );
            }
            let to = if started.login.needs_totp {
                "/login/code"
            } else {
                "/"
            };
            HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, to))
                .cookie(started.cookie)
                .finish()
        }
        Err(r) => {
            let wait = r.retry_after;
            login_steps::with_retry_after(login_page(&req, &address, &r.message, r.status), wait)
        }
    }
}

/// `GET /login/code`: the TOTP or recovery code step.
pub async fn code_form(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    let Some(address) = login_steps::pending(&ctx, &req) else {
        return redirect("/login");
    };
    let t = CodePage {
        chrome: Chrome::anonymous(&req, "/login"),
        address,
        error: String::new(),
    };
    render(&req, &t.chrome, &t)
}

/// `POST /login/code`: the code is checked by `http::login_steps::code`, which counts a
/// wrong one as a failed login.
pub async fn code_submit(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(address) = login_steps::pending(&ctx, &req) else {
        return redirect("/login");
    };
    let f = Form::parse(&body);
    let refusal = match login_steps::code(ctx.get_ref(), &req, &address, f.get("code")).await {
        Ok(cookie) => {
            return HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, "/"))
                .cookie(cookie)
                .finish();
        }
        Err(r) => r,
    };
    let t = CodePage {
        chrome: Chrome::anonymous(&req, "/login"),
        address,
        error: refusal.message,
    };
    let mut resp = render(&req, &t.chrome, &t);
    *resp.status_mut() = refusal.status;
    login_steps::with_retry_after(resp, refusal.retry_after)
}

/// `POST /logout` (with the CSRF token, like every form).
pub async fn logout(req: HttpRequest) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, "/login"))
        .cookie(crate::http::session::end(&req))
        .finish()
}

#[derive(Template)]
#[template(path = "twofa.html")]
struct TwoFaPage {
    chrome: Chrome,
    enabled: bool,
    /// During enrollment: the secret, its otpauth URI and the URI's QR code (SVG).
    secret: String,
    uri: String,
    qr_svg: String,
    /// After confirmation: the recovery codes, shown this once.
    recovery: Vec<String>,
    error: String,
}

/// The QR code of `text` as an inline SVG element (no XML declaration).
pub(crate) fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            match svg.find("<svg") {
                Some(i) => svg[i..].to_string(),
                None => svg,
            }
        }
        Err(e) => {
            tracing::warn!("dashboard: QR code: {e}");
            String::new()
        }
    }
}

async fn twofa_render(
    ctx: &Ctx,
    req: &HttpRequest,
    who: &crate::http::auth::Principal,
    mut t: TwoFaPage,
) -> HttpResponse {
    let (sctx, addr) = (ctx.get_ref().clone(), who.address.clone());
    match web::block(move || crate::admin::twofa::status(&sctx.store, &addr)).await {
        Ok(Ok(s)) => t.enabled = s.enabled,
        Ok(Err(e)) => t.error = e,
        Err(e) => t.error = e.to_string(),
    }
    render(req, &t.chrome, &t)
}

/// `GET /twofa`: the logged-in account's two-factor state.
pub async fn twofa_page(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let t = TwoFaPage {
        chrome: Chrome::new(&req, &who, "/twofa"),
        enabled: false,
        secret: String::new(),
        uri: String::new(),
        qr_svg: String::new(),
        recovery: Vec::new(),
        error: String::new(),
    };
    twofa_render(&ctx, &req, &who, t).await
}

/// `POST /twofa`: `action=begin` shows a new secret; `action=confirm` with a code from it
/// turns two-factor on and shows the recovery codes once. The answers are pages, not
/// redirects: a secret must not travel in a cookie or a URL.
pub async fn twofa_post(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let f = Form::parse(&body);
    let mut t = TwoFaPage {
        chrome: Chrome::new(&req, &who, "/twofa"),
        enabled: false,
        secret: String::new(),
        uri: String::new(),
        qr_svg: String::new(),
        recovery: Vec::new(),
        error: String::new(),
    };
    let (sctx, addr) = (ctx.get_ref().clone(), who.address.clone());
    match f.get("action") {
        "begin" => match web::block(move || crate::admin::twofa::begin(&sctx.store, &addr)).await {
            Ok(Ok(e)) => {
                t.qr_svg = qr_svg(&e.otpauth_uri);
                t.secret = e.secret_base32;
                t.uri = e.otpauth_uri;
            }
            Ok(Err(e)) => t.error = e,
            Err(e) => t.error = e.to_string(),
        },
        "confirm" => {
            let code = f.get("code").to_string();
            match web::block(move || crate::admin::twofa::confirm(&sctx.store, &addr, &code)).await
            {
                Ok(Ok(codes)) => t.recovery = codes,
                Ok(Err(e)) => t.error = e,
                Err(e) => t.error = e.to_string(),
            }
        }
        other => {
            return redirect_with(&req, "/twofa", Err(format!("unknown action {other:?}")));
        }
    }
    twofa_render(&ctx, &req, &who, t).await
}
