//! The directory's values as callers see them (accounts, login outcomes, recipient
//! destinations), the checks that normalise names, and password hashing (argon2id PHC strings),
//! which every backend shares.
//!
//! Names are stored lowercase: domains are case-insensitive (RFC 5321 §2.4), and although local
//! parts may be case-sensitive, every mail server in use treats them as not, and so do we.

use std::collections::HashSet;
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
    /// Refused at every login (answered like a wrong password); mail to it is still
    /// accepted and delivered.
    pub disabled: bool,
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

/// The domain of a normalised address (empty when it has no `@`).
pub(crate) fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

/// A new password's hash; Invalid for an empty password.
pub(crate) fn new_password_hash(password: &str) -> Result<String, StorageError> {
    if password.is_empty() {
        return Err(StorageError::Invalid(
            "the password must not be empty".into(),
        ));
    }
    hash_password(password)
}

/// An account as a backend stores it. Its encoding is what [`AccountRecord::stamp`] digests,
/// so a field added here later changes every stamp and ends every cached login.
///
/// Fields are only ever appended: a record written before a field existed is read by
/// [`AccountRecord::decode`] through the older layout, with the new field's default.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct AccountRecord {
    pub(crate) address: String,
    /// PHC string.
    pub(crate) hash: String,
    pub(crate) admin: bool,
    pub(crate) created: u64,
    /// Added after the first release (see [`AccountRecordV1`]).
    pub(crate) disabled: bool,
}

/// The record's first layout, without `disabled`: data directories made before the flag
/// existed hold these.
#[derive(Deserialize)]
pub(crate) struct AccountRecordV1 {
    address: String,
    hash: String,
    admin: bool,
    created: u64,
}

impl AccountRecord {
    pub(crate) fn account(&self) -> Account {
        Account {
            address: self.address.clone(),
            admin: self.admin,
            created: self.created,
            disabled: self.disabled,
        }
    }

    /// Decodes a stored record of either layout. The current one is tried first: an older
    /// record is shorter and fails it (bincode has no field tags, and a missing field is the
    /// end of the input), while a current one never decodes as the older layout by mistake
    /// because it is tried second.
    pub(crate) fn decode(raw: &[u8]) -> Result<AccountRecord, StorageError> {
        match bincode::deserialize::<AccountRecord>(raw) {
            Ok(rec) => Ok(rec),
            Err(current) => match bincode::deserialize::<AccountRecordV1>(raw) {
                Ok(v1) => Ok(AccountRecord {
                    address: v1.address,
                    hash: v1.hash,
                    admin: v1.admin,
                    created: v1.created,
                    disabled: false,
                }),
                Err(_) => Err(StorageError::Encoding(format!("account record: {current}"))),
            },
        }
    }

    /// The SHA-256 digest of the record (see `Directory::account_stamp`).
    pub(crate) fn stamp(&self) -> Result<[u8; 32], StorageError> {
        use sha2::{Digest, Sha256};
        let raw = bincode::serialize(self)
            .map_err(|e| StorageError::Encoding(format!("account {}: {e}", self.address)))?;
        Ok(Sha256::digest(&raw).into())
    }
}

/// The account stamp of a record found (see `Directory::account_stamp`).
pub(crate) fn stamp_of(
    record: Option<AccountRecord>,
) -> Result<Option<(String, [u8; 32])>, StorageError> {
    match record {
        Some(rec) => Ok(Some((rec.address.clone(), rec.stamp()?))),
        None => Ok(None),
    }
}

/// An alias and its new target, normalised, with the alias's domain: Invalid for an alias
/// pointing to itself.
pub(crate) fn alias_pair(
    alias: &str,
    target: &str,
) -> Result<(String, String, String), StorageError> {
    let alias = normalize_address(alias)?;
    let target = normalize_address(target)?;
    if alias == target {
        return Err(StorageError::Invalid(format!(
            "alias {alias} cannot point to itself"
        )));
    }
    let domain = domain_of(&alias).to_string();
    Ok((alias, target, domain))
}

/// Checks a login against the account it names (`None`: no such account, and the password is
/// verified against the dummy hash so that a miss costs as much as a wrong password).
pub(crate) fn check_login(
    record: Option<AccountRecord>,
    password: &str,
) -> Result<AuthOutcome, StorageError> {
    match record {
        Some(rec) => {
            let matches = password_matches(password, &rec.hash)?;
            if matches && rec.disabled {
                // Answered like a wrong password, so that a login cannot tell a disabled
                // account from a bad guess; the log says why.
                tracing::warn!(account = %rec.address, "login refused: the account is disabled");
                Ok(AuthOutcome::BadPassword {
                    address: rec.address,
                })
            } else if matches {
                Ok(AuthOutcome::Ok(rec.account()))
            } else {
                Ok(AuthOutcome::BadPassword {
                    address: rec.address,
                })
            }
        }
        None => {
            password_matches(password, dummy_hash()?)?;
            Ok(AuthOutcome::NoSuchAccount)
        }
    }
}

/// Alias chains deeper than this are cut (and logged).
pub(crate) const MAX_ALIAS_DEPTH: usize = 10;

/// What recipient resolution asks of a backend, name by name (all names normalised).
pub(crate) trait RecipientLookup {
    fn is_local_domain(&mut self, domain: &str) -> Result<bool, StorageError>;
    fn is_account(&mut self, address: &str) -> Result<bool, StorageError>;
    /// The targets of an alias, in order; `None` when `alias` is not one.
    fn alias_targets(&mut self, alias: &str) -> Result<Option<Vec<String>>, StorageError>;
}

/// Resolves a normalised recipient address to its destinations (see
/// `Directory::resolve_recipient`): aliases followed depth first, each address once, at most
/// [`MAX_ALIAS_DEPTH`] deep; `user+tag@dom` reaches `user@dom` unless an account or alias is
/// named exactly `user+tag@dom`.
pub(crate) fn resolve(
    lookup: &mut impl RecipientLookup,
    address: &str,
) -> Result<Vec<Destination>, StorageError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    expand(lookup, address, 0, &mut seen, &mut out)?;
    Ok(out)
}

/// Classifies a normalised recipient address for RCPT TO.
pub(crate) fn classify(
    lookup: &mut impl RecipientLookup,
    address: &str,
) -> Result<RecipientKind, StorageError> {
    if !lookup.is_local_domain(domain_of(address))? {
        return Ok(RecipientKind::Remote);
    }
    if resolve(lookup, address)?.is_empty() {
        Ok(RecipientKind::UnknownLocal)
    } else {
        Ok(RecipientKind::Local)
    }
}

fn expand(
    lookup: &mut impl RecipientLookup,
    address: &str,
    depth: usize,
    seen: &mut HashSet<String>,
    out: &mut Vec<Destination>,
) -> Result<(), StorageError> {
    if depth > MAX_ALIAS_DEPTH {
        tracing::warn!(address, "alias chain deeper than {MAX_ALIAS_DEPTH}; cut");
        return Ok(());
    }
    if !seen.insert(address.to_string()) {
        return Ok(()); // a loop, or a second path to the same address
    }
    if !lookup.is_local_domain(domain_of(address))? {
        push_unique(out, Destination::Remote(address.to_string()));
        return Ok(());
    }
    if expand_exact(lookup, address, depth, seen, out)? {
        return Ok(());
    }
    if let Some((local, domain)) = address.rsplit_once('@') {
        if let Some((base, _tag)) = local.split_once('+') {
            if !base.is_empty() {
                let base = format!("{base}@{domain}");
                if seen.insert(base.clone()) {
                    expand_exact(lookup, &base, depth, seen, out)?;
                }
            }
        }
    }
    Ok(())
}

/// Expand `address` if it is an account or an alias; false if it is neither.
fn expand_exact(
    lookup: &mut impl RecipientLookup,
    address: &str,
    depth: usize,
    seen: &mut HashSet<String>,
    out: &mut Vec<Destination>,
) -> Result<bool, StorageError> {
    if lookup.is_account(address)? {
        push_unique(out, Destination::Local(address.to_string()));
        return Ok(true);
    }
    match lookup.alias_targets(address)? {
        Some(targets) => {
            for t in targets {
                expand(lookup, &t, depth + 1, seen, out)?;
            }
            Ok(true)
        }
        None => Ok(false),
    }
}

fn push_unique(out: &mut Vec<Destination>, d: Destination) {
    if !out.contains(&d) {
        out.push(d);
    }
}
