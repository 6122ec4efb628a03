//! The verified-credential cache: a successful login is remembered in memory for a while, so
//! that a client logging in again skips argon2, as Dovecot's `auth_cache` does. Mail clients
//! reconnect all day (and imaptest-style loads log in every few commands); with argon2 at
//! 19 MiB and one check per core, those logins queued for about a second each.
//!
//! Implementation notes:
//! - **Key:** HMAC-SHA256 under a random key made when the process starts, over the login as
//!   typed and the password, each length-prefixed so that no two pairs share an input. The
//!   password itself is not kept. The key lives only in this process's memory, so nothing
//!   here means anything after a restart, and nothing of it is written to disk or logged
//!   (`Debug` shows the entry count only).
//! - **Value:** the account's address, a digest of its stored record taken before the
//!   password was verified ([`crate::storage::Directory::account_stamp`]), and the expiry. The
//!   caller ([`super::auth::check_password`]) trusts a hit only while the record's digest is
//!   unchanged, so a password change, the account's deletion or any other change to the
//!   record ends the cached login whichever path made it (console, CLI, a later API). The
//!   console's account commands also drop the account's entries at once ([`CredentialCache::forget`]).
//! - **Only successes are stored.** A wrong password has a different key, so it never hits:
//!   it always gets the full argon2 check, the auth-failure log line and whatever screening
//!   reads that log.
//! - **Bounded:** at most `capacity` entries (default [`MAX_ENTRIES`]); when full, expired
//!   entries go first, then the one that expires soonest.
//! - **Time** is unix seconds from the server's [`crate::clock::Clock`], passed in by the
//!   caller, so tests move it without sleeping.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use ring::hmac;

/// Entries kept at most: about 100 bytes each, so under 2 MB when full.
pub const MAX_ENTRIES: usize = 16_384;

/// The keyed hash of one login and password.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

/// What a cache hit gives back: whose login it was, and the digest of their account record
/// when the password was verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remembered {
    pub address: String,
    pub stamp: [u8; 32],
}

struct Entry {
    remembered: Remembered,
    /// Unix seconds after which the entry is not used.
    expires: i64,
}

/// Verified logins, keyed by [`CacheKey`]. One per server, in `ServerContext`.
pub struct CredentialCache {
    key: hmac::Key,
    entries: Mutex<HashMap<CacheKey, Entry>>,
    capacity: usize,
    /// Logins answered from the cache since start (for tests and the bench).
    served: AtomicU64,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("entries", &self.len())
            .field("served", &self.served())
            .finish()
    }
}

impl Default for CredentialCache {
    fn default() -> Self {
        CredentialCache::with_capacity(MAX_ENTRIES)
    }
}

impl CredentialCache {
    /// An empty cache holding at most `capacity` entries, with a fresh random key.
    pub fn with_capacity(capacity: usize) -> CredentialCache {
        CredentialCache {
            key: hmac::Key::new(hmac::HMAC_SHA256, &rand::random::<[u8; 32]>()),
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            served: AtomicU64::new(0),
        }
    }

    /// The keyed hash of a login as typed and its password.
    pub fn key(&self, login: &str, password: &str) -> CacheKey {
        let mut ctx = hmac::Context::with_key(&self.key);
        for part in [login.as_bytes(), password.as_bytes()] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        CacheKey(out)
    }

    /// The login remembered under `key`, unless it expired by `now` (then it is dropped).
    pub fn get(&self, key: &CacheKey, now: i64) -> Option<Remembered> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some(e) if e.expires > now => Some(e.remembered.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remembers a verified login until `now + ttl`; a zero `ttl` remembers nothing.
    pub fn insert(&self, key: CacheKey, remembered: Remembered, now: i64, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let expires = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, e| e.expires > now);
            if entries.len() >= self.capacity {
                let soonest = entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| *k);
                if let Some(k) = soonest {
                    entries.remove(&k);
                }
            }
        }
        entries.insert(
            key,
            Entry {
                remembered,
                expires,
            },
        );
    }

    /// Drops one entry (its account changed since it was verified).
    pub fn remove(&self, key: &CacheKey) {
        self.lock().remove(key);
    }

    /// Drops every login of `address` (lowercase, as stored): after a password change or
    /// the account's deletion.
    pub fn forget(&self, address: &str) {
        self.lock()
            .retain(|_, e| !e.remembered.address.eq_ignore_ascii_case(address));
    }

    /// Drops everything (the cache was turned off by a reload).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Counts a login answered from the cache.
    pub fn note_served(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
    }

    /// Logins answered from the cache since the server started.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, Entry>> {
        // Every critical section leaves the map consistent, so a poisoned lock is usable.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
#[path = "credential_cache_tests.rs"]
mod tests;
