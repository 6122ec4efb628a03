//! The browser login steps every web front shares (the admin dashboard on the `admin`
//! listener, webmail on `http`/`https`): the password step, the second-factor step of an
//! account with TOTP, and what each failure tells the user. The checks themselves are
//! [`super::login`]'s (limit per address, auth-failure log, screening); the session is
//! [`super::session`]'s. A front only decides who may use it and where to go next.
//!
//! The password step of an account with two-factor login starts a session marked "second
//! factor pending" (`mfa_done = false`), which no page accepts; the code step replaces it
//! with a full one. A new session (new cookie, new CSRF token) is started at each step, so
//! a cookie planted before the login is never the one logged in (no session fixation).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::HttpRequest;

use super::login::{self, LoginError, LoginOk};
use super::session;
use crate::actors::ServerContext;

/// The peer's address (unspecified when the transport has none, as in some tests).
pub fn peer(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// A failed step: what to tell the user, with the status of the page that says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub status: StatusCode,
    /// For a 429: the seconds until the login limit lifts (the page's `Retry-After`).
    pub retry_after: Option<u64>,
}

impl Refusal {
    pub fn new(message: impl Into<String>, status: StatusCode) -> Refusal {
        Refusal {
            message: message.into(),
            status,
            retry_after: None,
        }
    }
}

/// Adds `Retry-After` (seconds until the login limit lifts) to a 429 page, as the API's
/// 429 has it (RFC 6585 §4).
pub fn with_retry_after(
    mut resp: actix_web::HttpResponse,
    secs: Option<u64>,
) -> actix_web::HttpResponse {
    if let Some(secs) = secs {
        resp.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(secs),
        );
    }
    resp
}

/// A password step that passed: the session cookie to set, and whether the code step must
/// follow.
pub struct Started {
    pub login: LoginOk,
    pub cookie: Cookie<'static>,
}

/// The password step: checks `address` and `password` and starts a session (pending its
/// second factor when the account has one).
pub async fn password(
    ctx: &Arc<ServerContext>,
    req: &HttpRequest,
    address: &str,
    password: &str,
) -> Result<Started, Refusal> {
    match login::check(ctx, peer(req), address, password, None).await {
        Ok(login) => {
            let cookie = session::start(ctx, req, &login.address, !login.needs_totp);
            Ok(Started { login, cookie })
        }
        Err(LoginError::TotpRequired) => {
            // Not answered without a code today; the code step would follow.
            let address = address.to_ascii_lowercase();
            let role =
                login::role_of(ctx, &address).map_err(|_| refusal(LoginError::Unavailable, ""))?;
            let cookie = session::start(ctx, req, &address, false);
            let login = LoginOk {
                address,
                role,
                needs_totp: true,
            };
            Ok(Started { login, cookie })
        }
        Err(e) => Err(refusal(e, "Wrong address or password.")),
    }
}

/// The account of the request's session when it waits for its second factor.
pub fn pending(ctx: &ServerContext, req: &HttpRequest) -> Option<String> {
    session::current(ctx, req)
        .filter(|s| !s.mfa_done)
        .map(|s| s.address)
}

/// The code step (TOTP or recovery code) of the pending session's `address`: the cookie of
/// the full session. A wrong code counts as a failed login.
pub async fn code(
    ctx: &Arc<ServerContext>,
    req: &HttpRequest,
    address: &str,
    code: &str,
) -> Result<Cookie<'static>, Refusal> {
    match login::second_factor(ctx, peer(req), address, code).await {
        Ok(()) => Ok(session::start(ctx, req, address, true)),
        Err(e) => Err(refusal(e, "That code is not right (or was used already).")),
    }
}

/// What a failed step tells the user; `wrong` for a wrong password or code.
fn refusal(e: LoginError, wrong: &str) -> Refusal {
    match e {
        LoginError::Limited { retry_after_secs } => Refusal {
            retry_after: Some(retry_after_secs),
            ..Refusal::new(
                format!("Too many failed logins: try again in {retry_after_secs} s."),
                StatusCode::TOO_MANY_REQUESTS,
            )
        },
        LoginError::Unavailable => Refusal::new(
            "The login cannot be checked now; try again later.",
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        LoginError::Bad | LoginError::TotpBad | LoginError::TotpRequired => {
            Refusal::new(wrong, StatusCode::UNAUTHORIZED)
        }
    }
}
