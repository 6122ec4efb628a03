//! Password checks for every protocol: argon2 runs off the session's thread (it is slow on
//! purpose), and every failure goes to the auth-failure log with the protocol, session,
//! client address, the login tried and the account it matched (or none).

use std::net::SocketAddr;
use std::sync::Arc;

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
    let store = sctx.store.clone();
    let l = login.clone();
    // At most one argon2 verification per core at a time: each needs a 19 MiB buffer, and
    // a burst of logins (thousands of clients reconnecting) must not turn into thousands
    // of them at once — in memory or in threads.
    let Ok(_permit) = sctx.password_checks.acquire().await else {
        return Checked::Unavailable;
    };
    let outcome = tokio::task::spawn_blocking(move || store.verify_password(&l, &password)).await;
    let failed = |account: Option<&str>| {
        sctx.auth_log
            .record(protocol, session, peer.ip(), &login, account);
        Checked::Failed
    };
    match outcome {
        Ok(Ok(AuthOutcome::Ok(account))) => {
            tracing::info!(account = %account.address, protocol, "authenticated");
            Checked::Ok(account.address)
        }
        Ok(Ok(AuthOutcome::BadPassword { address })) => failed(Some(&address)),
        Ok(Ok(AuthOutcome::NoSuchAccount)) => failed(None),
        Ok(Err(e)) => {
            tracing::error!("password check failed: {e}");
            Checked::Unavailable
        }
        Err(e) => {
            tracing::error!("password check task failed: {e}");
            Checked::Unavailable
        }
    }
}
