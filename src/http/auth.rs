//! Who is asking: the [`Principal`] behind an HTTP request, from the session cookie, HTTP
//! Basic (an account's password) or an API key (`Authorization: Bearer …`).
//!
//! The roles follow the directory: an account with the admin flag administers the whole
//! server; an account with domain-admin rights (`domainadmin add`) administers its domains
//! only; any other account is a user (webmail, DAV). API keys carry a [`Scope`] that limits
//! what they may do whatever their owner may.
//!
//! [`principal`] finds the caller: an `Authorization` header wins over the cookie (Basic
//! goes through `login::check`, with its limit, its screening reports and the rule that an
//! account with two-factor authentication may not log in with its password alone; Bearer
//! takes an API key `fm_<id>_<secret>`), else the session cookie (`http::session`), which
//! counts only once the second factor was given when the account has one. [`Manager`] is
//! the extractor of the management handlers: 401 without (good) credentials, 403 for a
//! plain user.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::error::ApiError;
use super::login::{self, LoginError};
use super::session;
use crate::actors::ServerContext;

pub use super::principal::{Principal, Role, Scope, Via};

/// Extractor: a caller who administers something (the server or domains).
#[derive(Debug, Clone)]
pub struct Manager(pub Principal);

impl FromRequest for Manager {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Manager, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let Some(ctx) = req
                .app_data::<web::Data<Arc<ServerContext>>>()
                .map(|d| d.get_ref().clone())
            else {
                return Err(ApiError::internal("no server context"));
            };
            match principal(&ctx, &req).await? {
                None => Err(ApiError::unauthorized(
                    "log in, or send HTTP Basic credentials or an API key",
                )),
                Some(p) if !p.is_manager() => {
                    Err(ApiError::forbidden("this account administers nothing"))
                }
                Some(p) => Ok(Manager(p)),
            }
        })
    }
}

/// Who is asking (module comment): `Ok(None)` when the request carries no credentials or
/// only a session that has ended; `Err` when it carries wrong ones (401, or 429 when the
/// address is limited, 503 when the check cannot run).
pub async fn principal(
    ctx: &Arc<ServerContext>,
    req: &HttpRequest,
) -> Result<Option<Principal>, ApiError> {
    let peer = req
        .peer_addr()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("unreadable Authorization header"))?;
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        return if scheme.eq_ignore_ascii_case("basic") {
            basic(ctx, peer, rest).await.map(Some)
        } else if scheme.eq_ignore_ascii_case("bearer") {
            bearer(ctx, peer, rest).await.map(Some)
        } else {
            Err(ApiError::unauthorized(format!(
                "unknown authorization scheme {scheme:?} (Basic or Bearer)"
            )))
        };
    }
    let Some(s) = session::current(ctx, req) else {
        return Ok(None);
    };
    if !s.mfa_done {
        // A session made before the second factor: enough for the code page, nothing more
        // (the account may have enabled 2FA since; then the flag is not enough either).
        let c = ctx.clone();
        let address = s.address.clone();
        let needs = web::block(move || login::totp_enabled(&c, &address))
            .await
            .map_err(|_| ApiError::unavailable("the two-factor check did not run"))?
            .map_err(ApiError::unavailable)?;
        if needs {
            return Ok(None);
        }
    }
    let role = login::role_of(ctx, &s.address)?;
    Ok(Some(Principal {
        address: s.address,
        role,
        scope: Scope::All,
        via: Via::Session,
    }))
}

/// `Authorization: Basic` (RFC 7617): an account's address and password.
async fn basic(
    ctx: &Arc<ServerContext>,
    peer: std::net::IpAddr,
    b64: &str,
) -> Result<Principal, ApiError> {
    let bad = || ApiError::unauthorized("malformed Basic credentials");
    let raw = STANDARD.decode(b64).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (login, password) = text.split_once(':').ok_or_else(bad)?;
    match login::check(ctx, peer, login, password, None).await {
        Ok(ok) if ok.needs_totp => Err(login_error(LoginError::TotpRequired)),
        Ok(ok) => Ok(Principal {
            address: ok.address,
            role: ok.role,
            scope: Scope::All,
            via: Via::Basic,
        }),
        Err(e) => Err(login_error(e)),
    }
}

/// `Authorization: Bearer fm_…`: an API key. A wrong key counts as a failed login.
async fn bearer(
    ctx: &Arc<ServerContext>,
    peer: std::net::IpAddr,
    key: &str,
) -> Result<Principal, ApiError> {
    let limit = ctx.config().http.login_failures;
    if let Some(retry_after_secs) = login::limiter(ctx).limited(peer, limit, ctx.clock.now()) {
        return Err(login_error(LoginError::Limited { retry_after_secs }));
    }
    let (c, presented) = (ctx.clone(), key.to_string());
    let found = web::block(move || login::api_key(&c, &presented))
        .await
        .map_err(|_| ApiError::unavailable("the API key check did not run"))?
        .map_err(ApiError::unavailable)?;
    let Some(found) = found else {
        login::report_failure(ctx, peer, "api key", None);
        return Err(ApiError::unauthorized("unknown or revoked API key"));
    };
    let role = login::role_of(ctx, &found.owner)?;
    Ok(Principal {
        address: found.owner,
        role,
        scope: found.scope,
        via: Via::ApiKey(found.id),
    })
}

/// The HTTP answer of a failed login.
pub fn login_error(e: LoginError) -> ApiError {
    match e {
        LoginError::Bad | LoginError::TotpBad => ApiError::unauthorized("wrong login or password"),
        LoginError::Limited { retry_after_secs } => ApiError::too_many(
            format!(
                "too many failed logins from your address; try again in {retry_after_secs} seconds"
            ),
            retry_after_secs,
        ),
        LoginError::TotpRequired => ApiError::unauthorized(
            "this account uses two-factor authentication: log in on the dashboard or use an API key",
        ),
        LoginError::Unavailable => ApiError::unavailable("the login check cannot run now; try again later"),
    }
}
