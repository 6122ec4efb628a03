//! The directory's values as callers see them (accounts, login outcomes, recipient
//! destinations), the checks that normalise names, and password hashing (argon2id PHC strings),
//! which every backend shares.
//!
//! Names are stored lowercase: domains are case-insensitive (RFC 5321 §2.4), and although local
//! parts may be case-sensitive, every mail server in use treats them as not, and so do we.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

use super::StorageError;

static FAST_HASHING: AtomicBool = AtomicBool::new(false);

/// Use cheap argon2 parameters (m=256 KiB, t=1, p=1) for hashes made from now on. For tests
/// only: hashes made either way verify either way, since PHC strings carry their parameters.
pub fn set_fast_password_hashing_for_tests(fast: bool) {
    FAST_HASHING.store(fast, Ordering::Relaxed);
}

pub(crate) fn hasher() -> Argon2<'static> {
    if FAST_HASHING.load(Ordering::Relaxed) {
        if let Ok(params) = Params::new(256, 1, 1, None) {
            return Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        }
    }
    Argon2::default()
}

pub(crate) fn hash_password(password: &str) -> Result<String, StorageError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| StorageError::Invalid(format!("cannot make a password salt: {e}")))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StorageError::Invalid(format!("cannot hash the password: {e}")))
}

/// Verify in constant time (argon2 compares its outputs in constant time).
pub(crate) fn password_matches(password: &str, phc: &str) -> Result<bool, StorageError> {
    let parsed = PasswordHash::new(phc)
        .map_err(|e| StorageError::Encoding(format!("stored password hash: {e}")))?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// A hash to verify against when the login names no account, so that a miss costs as much as a
/// wrong password. One per parameter set.
pub(crate) fn dummy_hash() -> Result<&'static str, StorageError> {
    static FAST: OnceLock<String> = OnceLock::new();
    static NORMAL: OnceLock<String> = OnceLock::new();
    let cell = if FAST_HASHING.load(Ordering::Relaxed) {
        &FAST
    } else {
        &NORMAL
    };
    if let Some(h) = cell.get() {
        return Ok(h);
    }
    let h = hash_password(&hex::encode(rand::random::<[u8; 16]>()))?;
    Ok(cell.get_or_init(|| h))
}

/// An account as callers see it (the hash stays inside storage).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub address: String,
    pub admin: bool,
    /// Unix seconds.
    pub created: u64,
}

/// The result of checking a login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    Ok(Account),
    BadPassword { address: String },
    NoSuchAccount,
}

/// Where a recipient's mail goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A local account's address.
    Local(String),
    /// An address in a domain that is not local.
    Remote(String),
}

/// What RCPT TO needs to know about an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecipientKind {
    /// A local domain, and the address resolves to at least one destination.
    Local,
    /// A local domain, but no such user.
    UnknownLocal,
    /// The domain is not local.
    Remote,
}

/// Lowercase and check a domain name: dot-separated labels of letters, digits and inner
/// hyphens (RFC 1035 §2.3.1; non-ASCII letters allowed for SMTPUTF8 domains), at most 253
/// characters. A trailing dot is dropped.
pub(crate) fn normalize_domain(name: &str) -> Result<String, StorageError> {
    let lower = name.strip_suffix('.').unwrap_or(name).to_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if lower.is_empty() || lower.len() > 253 || !lower.split('.').all(label_ok) {
        return Err(StorageError::Invalid(format!(
            "invalid domain name {name:?}"
        )));
    }
    Ok(lower)
}

/// Lowercase and check `local@domain` (the last `@` splits). The local part is 1 to 64 bytes
/// without spaces, controls or the specials that need quoting (RFC 5321 §4.1.2 dot-string).
pub(crate) fn normalize_address(address: &str) -> Result<String, StorageError> {
    let invalid = || StorageError::Invalid(format!("invalid address {address:?}"));
    let (local, domain) = address.rsplit_once('@').ok_or_else(invalid)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"(),:;<>@[\\]".contains(c));
    if !local_ok {
        return Err(invalid());
    }
    let domain = normalize_domain(domain).map_err(|_| invalid())?;
    Ok(format!("{}@{domain}", local.to_lowercase()))
}
