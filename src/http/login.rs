//! Web logins: one function, [`check`], for the dashboard's login form, HTTP Basic on the
//! API and, later, webmail. The password goes through `actors::auth::check_password`, as
//! IMAP's and SMTP's do: argon2 off the async threads (or the credential cache), every
//! failure written to the auth-failure log and counted by dynamic screening, which may ban
//! the address from every service. An unknown account costs the same argon2 run as a wrong
//! password (the store checks a dummy hash), so timing does not tell which accounts exist.
//!
//! On top of screening (whose trusted networks, loopback by default, are never counted),
//! each address may fail `[http] login_failures` times in 15 minutes before [`check`]
//! answers [`LoginError::Limited`] without trying the password: a brute force from a
//! machine screening trusts, or with screening off, is still slowed down.
//!
//! Two-factor: for an account with TOTP enabled the password alone is not a login.
//! Without a code, [`check`] answers `needs_totp: true` (the dashboard starts a session
//! with `mfa_done = false` and asks for the code, then calls [`second_factor`]); with a
//! code it is checked at once (`admin::twofa::verify`, which also takes a recovery code).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, Weak};

use super::principal::Role;
use crate::actors::auth::{check_password, Checked};
use crate::actors::screen::Offence;
use crate::actors::supervisor::lock;
use crate::actors::ServerContext;

/// The window of `[http] login_failures` (seconds).
pub const WINDOW: i64 = 15 * 60;
/// The protocol name in the auth-failure log.
const PROTOCOL: &str = "http";
/// Addresses kept by a limiter before expired ones are swept.
const SWEEP_ABOVE: usize = 10_000;

/// A successful check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOk {
    /// The account (lowercase), whatever case the login used.
    pub address: String,
    pub role: Role,
    /// The password was right but the account needs a TOTP code (none was given).
    pub needs_totp: bool,
}

/// Why a login failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// Wrong login or password (or the account is gone).
    Bad,
    /// Too many failures from this address; try again after this many seconds.
    Limited { retry_after_secs: u64 },
    /// The account needs a second factor that this way of logging in cannot carry (HTTP
    /// Basic): use the dashboard or an API key.
    TotpRequired,
    /// The TOTP or recovery code was wrong.
    TotpBad,
    /// The check could not run (storage unreachable): try again later; not counted.
    Unavailable,
}

/// Failed web logins per address over the last [`WINDOW`] (one per server).
#[derive(Debug, Default)]
pub struct Limiter {
    failures: Mutex<HashMap<IpAddr, Vec<i64>>>,
}

impl Limiter {
    /// Seconds until `ip` may try again, when it has `limit` failures in the window.
    pub fn limited(&self, ip: IpAddr, limit: u32, now: i64) -> Option<u64> {
        let ip = ip.to_canonical();
        let mut map = lock(&self.failures);
        let times = map.get_mut(&ip)?;
        times.retain(|t| now - *t < WINDOW);
        if times.len() < limit as usize {
            return None;
        }
        let oldest = times.first().copied().unwrap_or(now);
        Some(u64::try_from(oldest + WINDOW - now).unwrap_or(1).max(1))
    }

    /// Counts a failure of `ip` (at most `limit` times are kept: more change nothing).
    pub fn fail(&self, ip: IpAddr, limit: u32, now: i64) {
        let ip = ip.to_canonical();
        let mut map = lock(&self.failures);
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, times| times.last().is_some_and(|t| now - *t < WINDOW));
        }
        let times = map.entry(ip).or_default();
        times.retain(|t| now - *t < WINDOW);
        times.push(now);
        let keep = (limit as usize).max(1);
        if times.len() > keep {
            times.drain(..times.len() - keep);
        }
    }
}

/// The limiter of the server `ctx` belongs to. Kept beside the context rather than in it
/// (the actors layer does not know the web front); entries of stopped servers are dropped.
pub fn limiter(ctx: &Arc<ServerContext>) -> Arc<Limiter> {
    static ALL: Mutex<Vec<(Weak<ServerContext>, Arc<Limiter>)>> = Mutex::new(Vec::new());
    let mut all = lock(&ALL);
    all.retain(|(w, _)| w.strong_count() > 0);
    if let Some((_, l)) = all
        .iter()
        .find(|(w, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(ctx)))
    {
        return l.clone();
    }
    let l = Arc::new(Limiter::default());
    all.push((Arc::downgrade(ctx), l.clone()));
    l
}

/// Checks a web login from `peer` (module comment).
pub async fn check(
    ctx: &Arc<ServerContext>,
    peer: IpAddr,
    address: &str,
    password: &str,
    totp: Option<&str>,
) -> Result<LoginOk, LoginError> {
    let limit = ctx.config().http.login_failures;
    let limiter = limiter(ctx);
    if let Some(retry_after_secs) = limiter.limited(peer, limit, ctx.clock.now()) {
        return Err(LoginError::Limited { retry_after_secs });
    }
    let checked = check_password(
        ctx,
        PROTOCOL,
        "web",
        SocketAddr::new(peer, 0),
        address.to_string(),
        password.to_string(),
    )
    .await;
    let account = match checked {
        Checked::Ok(account) => account,
        Checked::Failed => {
            // Logged and reported to screening by check_password.
            limiter.fail(peer, limit, ctx.clock.now());
            return Err(LoginError::Bad);
        }
        Checked::Unavailable => return Err(LoginError::Unavailable),
    };
    let role = role_of(ctx, &account).map_err(|_| LoginError::Unavailable)?;
    if !totp_enabled(ctx, &account).map_err(|_| LoginError::Unavailable)? {
        return Ok(LoginOk {
            address: account,
            role,
            needs_totp: false,
        });
    }
    match totp {
        None => Ok(LoginOk {
            address: account,
            role,
            needs_totp: true,
        }),
        Some(code) => {
            second_factor(ctx, peer, &account, code).await?;
            Ok(LoginOk {
                address: account,
                role,
                needs_totp: false,
            })
        }
    }
}

/// The second step of a login whose password was right (`needs_totp`): checks `code` (a
/// TOTP code or a recovery code). A wrong code counts as a failed login (limiter, log and
/// screening).
pub async fn second_factor(
    ctx: &Arc<ServerContext>,
    peer: IpAddr,
    address: &str,
    code: &str,
) -> Result<(), LoginError> {
    let limit = ctx.config().http.login_failures;
    if let Some(retry_after_secs) = limiter(ctx).limited(peer, limit, ctx.clock.now()) {
        return Err(LoginError::Limited { retry_after_secs });
    }
    let (c, account, code) = (ctx.clone(), address.to_string(), code.trim().to_string());
    let verified = tokio::task::spawn_blocking(move || twofa::verify(&c, &account, &code))
        .await
        .map_err(|_| LoginError::Unavailable)?
        .map_err(|e| {
            tracing::error!(account = address, "two-factor check failed: {e}");
            LoginError::Unavailable
        })?;
    if verified {
        Ok(())
    } else {
        report_failure(ctx, peer, address, Some(address));
        Err(LoginError::TotpBad)
    }
}

/// The role of `account`: admin by its flag, domain admin by its rights, else user.
pub fn role_of(ctx: &ServerContext, account: &str) -> Result<Role, crate::storage::StorageError> {
    let admin = ctx.store.get_account(account)?.is_some_and(|a| a.admin);
    if admin {
        return Ok(Role::Admin);
    }
    let mut domains = ctx.store.sender_rights(account)?.domains;
    if domains.is_empty() {
        return Ok(Role::User);
    }
    domains.sort();
    Ok(Role::DomainAdmin(domains))
}

/// Counts a failed web authentication that did not go through a password check (a wrong
/// API key, a wrong second factor): the limiter, the auth-failure log and screening.
pub fn report_failure(ctx: &Arc<ServerContext>, peer: IpAddr, login: &str, account: Option<&str>) {
    let config = ctx.config();
    limiter(ctx).fail(peer, config.http.login_failures, ctx.clock.now());
    ctx.auth_log.record(PROTOCOL, "web", peer, login, account);
    ctx.screen
        .record(&config.screening, peer, Offence::AuthFailure { account });
}

/// Whether `account` has two-factor authentication enabled (`admin::twofa`).
pub fn totp_enabled(ctx: &ServerContext, account: &str) -> Result<bool, String> {
    twofa::enabled(ctx, account)
}

/// What an API key stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    pub id: String,
    pub owner: String,
    pub scope: super::principal::Scope,
}

/// The key `presented` (`fm_<id>_<secret>`) if it is a live API key (`admin::apikey`).
pub fn api_key(ctx: &ServerContext, presented: &str) -> Result<Option<KeyOwner>, String> {
    twofa::api_key(ctx, presented)
}

/// The calls into `admin::twofa` and `admin::apikey`, in one place.
mod twofa {
    use super::*;

    /// Whether `account` has TOTP enabled.
    pub(super) fn enabled(ctx: &ServerContext, account: &str) -> Result<bool, String> {
        Ok(crate::admin::twofa::status(&ctx.store, account)?.enabled)
    }

    /// Whether `code` is a valid TOTP or recovery code of `account` now (a code is
    /// accepted once: a replay fails).
    pub(super) fn verify(ctx: &ServerContext, account: &str, code: &str) -> Result<bool, String> {
        let now = u64::try_from(ctx.clock.now()).unwrap_or(0);
        crate::admin::twofa::verify(&ctx.store, account, code, now)
    }

    pub(super) fn api_key(
        ctx: &ServerContext,
        presented: &str,
    ) -> Result<Option<KeyOwner>, String> {
        Ok(
            crate::admin::apikey::authenticate(&ctx.store, presented)?.map(|k| KeyOwner {
                id: k.id,
                owner: k.owner,
                scope: k.scope,
            }),
        )
    }
}
