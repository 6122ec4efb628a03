//! Recipient lookups kept in memory: whether a domain is local, whether an address is an
//! account, an alias's targets, and an account's INBOX folder id. SMTP asks them several
//! times per message (RCPT's check, its quota check, routing, the local delivery's target
//! folder), and each was a round trip (docs/benchmarks.md, k2 to k4). A delivery into a
//! cached INBOX id that no longer exists fails with NotFound before writing anything, drops
//! that id (`forget_folder`) and is retried with a fresh lookup.
//!
//! A cached answer may only be used while something tells this node about every directory
//! change, its own and other nodes':
//! - this node's writes drop the cache after their transaction commits ([`PgStore::dir_tx`]);
//! - other nodes' writes notify the settings channel, and the store's `LISTEN` thread
//!   (`watch.rs`) drops the cache on every settings notification it hears;
//! - the cache is used only while such a thread listens ([`DirCache::set_listening`]): a
//!   store nobody watches (the console, tests) reads every lookup from the database, and a
//!   broken connection turns the cache off until it listens again.
//!
//! A lookup that raced with a drop is not kept: each answer is stored under the generation
//! it was read in, and dropping the cache starts a new one. Entries also expire after
//! [`TTL`], a bound on staleness should a notification be lost without the connection
//! looking broken; and the cache holds at most [`MAX_ENTRIES`] names per kind (it is
//! emptied when full), so RCPTs to random names cannot grow it without bound.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::pool::{pg_error, Db, Tx};
use super::PgStore;
use crate::storage::directory::{normalize_domain, RecipientLookup};
use crate::storage::folders::FolderId;
use crate::storage::StorageError;

/// How long a cached answer is used at most.
pub(crate) const TTL: Duration = Duration::from_secs(60);

/// The most names kept per kind (domains, accounts, aliases).
pub(crate) const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
struct Maps {
    domains: HashMap<String, (bool, Instant)>,
    accounts: HashMap<String, (bool, Instant)>,
    aliases: HashMap<String, (Option<Vec<String>>, Instant)>,
    /// Accounts' INBOX folder ids (local delivery's target): an INBOX can be neither
    /// deleted nor renamed, only go with its account (a directory write, which drops the
    /// cache), and folder ids are never reused.
    inboxes: HashMap<String, (FolderId, Instant)>,
}

/// The cache of one store (all its clones).
#[derive(Default)]
pub(crate) struct DirCache {
    /// How many `LISTEN` threads hear the settings channel now.
    listening: AtomicUsize,
    /// Bumped by every drop: answers read before it are not stored.
    generation: AtomicU64,
    maps: Mutex<Maps>,
}

impl DirCache {
    /// Whether cached answers may be used.
    pub(crate) fn active(&self) -> bool {
        self.listening.load(Ordering::SeqCst) > 0
    }

    /// A `LISTEN` thread starts (`true`) or stops (`false`) hearing notifications. Either
    /// way the cache is dropped: nothing heard before is known to be current.
    pub(crate) fn set_listening(&self, on: bool) {
        if on {
            self.listening.fetch_add(1, Ordering::SeqCst);
        } else {
            // Never below 0, even if a thread reports twice.
            let _ = self
                .listening
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        }
        self.invalidate();
    }

    /// Drops every cached answer (a directory change, here or on another node).
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        *maps = Maps::default();
    }

    /// The cached INBOX id of `owner` (normalised), if fresh and the cache is in use.
    pub(crate) fn inbox(&self, owner: &str) -> Option<FolderId> {
        if !self.active() {
            return None;
        }
        self.get(|m| &m.inboxes, owner)
    }

    /// Keeps `owner`'s INBOX id, read in generation `read_in`.
    pub(crate) fn put_inbox(&self, read_in: u64, owner: &str, id: FolderId) {
        self.put(|m| &mut m.inboxes, read_in, owner, id);
    }

    /// Drops the cached INBOX ids that name folder `id` (an append found no such folder).
    pub(crate) fn forget_folder(&self, id: FolderId) {
        let mut maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        maps.inboxes.retain(|_, (cached, _)| *cached != id);
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// A cached answer from the map `pick` chooses, if fresh.
    fn get<T: Clone>(
        &self,
        pick: impl FnOnce(&Maps) -> &HashMap<String, (T, Instant)>,
        key: &str,
    ) -> Option<T> {
        let maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        match pick(&maps).get(key) {
            Some((v, at)) if at.elapsed() < TTL => Some(v.clone()),
            _ => None,
        }
    }

    /// Keeps `value`, read in generation `read_in`, unless the cache was dropped since.
    fn put<T>(
        &self,
        pick: impl FnOnce(&mut Maps) -> &mut HashMap<String, (T, Instant)>,
        read_in: u64,
        key: &str,
        value: T,
    ) {
        let mut maps = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        if self.generation() != read_in {
            return;
        }
        let map = pick(&mut maps);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key.to_string(), (value, Instant::now()));
    }
}

/// Recipient lookups through the cache: a name not cached (or stale) is read with `direct`
/// on a pooled connection and kept.
pub(crate) struct CachedLookup<'a> {
    store: &'a PgStore,
    cache: &'a DirCache,
    read_in: u64,
}

impl<'a> CachedLookup<'a> {
    pub(crate) fn new(store: &'a PgStore) -> CachedLookup<'a> {
        let cache = store.dir_cache();
        CachedLookup {
            store,
            cache,
            read_in: cache.generation(),
        }
    }

    /// One lookup on a pooled connection.
    fn read<T: Send>(
        &self,
        f: impl FnOnce(&mut Lookup<'_, super::pool::Conn>) -> Result<T, StorageError> + Send,
    ) -> Result<T, StorageError> {
        self.store.pool().with(|c| f(&mut Lookup(c)))
    }
}

impl RecipientLookup for CachedLookup<'_> {
    fn is_local_domain(&mut self, domain: &str) -> Result<bool, StorageError> {
        if let Some(v) = self.cache.get(|m| &m.domains, domain) {
            return Ok(v);
        }
        let v = self.read(|l| l.is_local_domain(domain))?;
        self.cache.put(|m| &mut m.domains, self.read_in, domain, v);
        Ok(v)
    }

    fn is_account(&mut self, address: &str) -> Result<bool, StorageError> {
        if let Some(v) = self.cache.get(|m| &m.accounts, address) {
            return Ok(v);
        }
        let v = self.read(|l| l.is_account(address))?;
        self.cache
            .put(|m| &mut m.accounts, self.read_in, address, v);
        Ok(v)
    }

    fn alias_targets(&mut self, alias: &str) -> Result<Option<Vec<String>>, StorageError> {
        if let Some(v) = self.cache.get(|m| &m.aliases, alias) {
            return Ok(v);
        }
        let v = self.read(|l| l.alias_targets(alias))?;
        self.cache
            .put(|m| &mut m.aliases, self.read_in, alias, v.clone());
        Ok(v)
    }
}

/// Recipient resolution's lookups, on one connection.
pub(crate) struct Lookup<'a, C: Db>(pub(crate) &'a mut C);

impl<C: Db> RecipientLookup for Lookup<'_, C> {
    fn is_local_domain(&mut self, domain: &str) -> Result<bool, StorageError> {
        match normalize_domain(domain) {
            Ok(d) => Ok(self
                .0
                .query_opt("SELECT 1 FROM domains WHERE name = $1", &[&d])
                .map_err(pg_error)?
                .is_some()),
            Err(_) => Ok(false),
        }
    }

    fn is_account(&mut self, address: &str) -> Result<bool, StorageError> {
        Ok(self
            .0
            .query_opt("SELECT 1 FROM accounts WHERE address = $1", &[&address])
            .map_err(pg_error)?
            .is_some())
    }

    fn alias_targets(&mut self, alias: &str) -> Result<Option<Vec<String>>, StorageError> {
        let targets: Vec<String> = self
            .0
            .query(
                "SELECT target FROM aliases WHERE alias = $1 ORDER BY pos",
                &[&alias],
            )
            .map_err(pg_error)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok((!targets.is_empty()).then_some(targets))
    }
}

impl PgStore {
    /// A directory write: one transaction, after which this node's cached lookups are
    /// dropped (whether it committed or not; dropping is always safe).
    pub(crate) fn dir_tx<T: Send>(
        &self,
        f: impl FnMut(&mut Tx<'_>) -> Result<T, StorageError> + Send,
    ) -> Result<T, StorageError> {
        let result = self.pool().tx(f);
        self.dir_cache().invalidate();
        result
    }
}

#[cfg(test)]
#[path = "dircache_tests.rs"]
mod tests;
