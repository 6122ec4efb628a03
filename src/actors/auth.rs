//! Password checks for every protocol: argon2 runs off the session's thread (it is slow on
//! purpose), and every failure goes to the auth-failure log with the protocol, session,
//! client address, the login tried and the account it matched (or none), and is counted by
//! dynamic screening ([`super::screen`]), which may ban the address.
//!
//! A login verified in the last `[auth] credential_cache_ttl` seconds is answered from the
//! [`super::credential_cache`] without argon2, as long as the account's stored record has not
//! changed since (checked on every hit). Failures never come from the cache: a wrong password
//! always takes the full check and is logged.

use std::net::SocketAddr;
use std::sync::Arc;

use super::credential_cache::{CacheKey, Remembered};
use super::screen::Offence;
use super::ServerContext;
use crate::storage::AuthOutcome;

/// The outcome of a password check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// The account's address.
    Ok(String),
    /// Wrong login or password (logged).
    Failed,
    /// The check itself could not run (storage error): try again later.
    Unavailable,
}

pub async fn check_password(
    sctx: &Arc<ServerContext>,
    protocol: &str,
    session: &str,
    peer: SocketAddr,
    login: String,
    password: String,
) -> Checked {
    let config = sctx.config();
    // A banned address gets no more guesses on a connection it already had open.
    if sctx.screen.banned(&config.screening, peer.ip()) {
        return Checked::Failed;
    }
    let ttl = config.auth.credential_cache_ttl;
    if ttl.is_zero() && !sctx.credentials.is_empty() {
        sctx.credentials.clear(); // turned off by a reload: forget what it held
    }
    let cache_key = (!ttl.is_zero()).then(|| sctx.credentials.key(&login, &password));
    if let Some(address) = cache_key.as_ref().and_then(|k| remembered(sctx, k)) {
        tracing::info!(account = %address, protocol, "authenticated (cached)");
        return Checked::Ok(address);
    }
    let store = sctx.store.clone();
    let l = login.clone();
    // At most one argon2 verification per core at a time: each needs a 19 MiB buffer, and
    // a burst of logins (thousands of clients reconnecting) must not turn into thousands
    // of them at once — in memory or in threads.
    let Ok(_permit) = sctx.password_checks.acquire().await else {
        return Checked::Unavailable;
    };
    let outcome = tokio::task::spawn_blocking(move || {
        // The stamp is read before the check: if the account changes in between, the entry
        // carries the older stamp and is simply not used.
        let stamp = if cache_key.is_some() {
            store.account_stamp(&l).ok().flatten()
        } else {
            None
        };
        (stamp, store.verify_password(&l, &password))
    })
    .await;
    let failed = |account: Option<&str>| {
        sctx.auth_log
            .record(protocol, session, peer.ip(), &login, account);
        sctx.stats.auth_failed(protocol);
        let offence = Offence::AuthFailure { account };
        sctx.screen.record(&config.screening, peer.ip(), offence);
        Checked::Failed
    };
    match outcome {
        Ok((stamp, Ok(AuthOutcome::Ok(account)))) => {
            tracing::info!(account = %account.address, protocol, "authenticated");
            if let (Some(key), Some((address, stamp))) = (cache_key, stamp) {
                if address == account.address {
                    let remembered = Remembered { address, stamp };
                    sctx.credentials
                        .insert(key, remembered, sctx.clock.now(), ttl);
                }
            }
            Checked::Ok(account.address)
        }
        Ok((_, Ok(AuthOutcome::BadPassword { address }))) => failed(Some(&address)),
        Ok((_, Ok(AuthOutcome::NoSuchAccount))) => failed(None),
        Ok((_, Err(e))) => {
            tracing::error!("password check failed: {e}");
            Checked::Unavailable
        }
        Err(e) => {
            tracing::error!("password check task failed: {e}");
            Checked::Unavailable
        }
    }
}

/// The address of a cached login, if `key` is remembered, unexpired, and the account's record
/// is the one it was verified against. One read of the accounts tree, no argon2; a storage
/// error falls back to the full check.
fn remembered(sctx: &ServerContext, key: &CacheKey) -> Option<String> {
    let hit = sctx.credentials.get(key, sctx.clock.now())?;
    match sctx.store.account_stamp(&hit.address) {
        Ok(Some((_, stamp))) if stamp == hit.stamp => {
            sctx.credentials.note_served();
            Some(hit.address)
        }
        Ok(_) => {
            sctx.credentials.remove(key);
            None
        }
        Err(e) => {
            tracing::warn!("credential cache: account read failed: {e}");
            None
        }
    }
}
