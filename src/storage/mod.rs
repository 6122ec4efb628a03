//! Storage: the synchronous, typed layer over sled (the index) and the blob directory (message
//! bodies). Actors call it from blocking contexts; it never touches actix or sockets.
//!
//! # Layout of the data directory
//!
//! ```text
//! data_dir/
//!   db/                sled database (one process owns it)
//!   blobs/ab/cdef…     message bodies, named by the sha256 of their content (64 hex chars:
//!                      the first two name the directory, the other 62 the file)
//!   blobs/tmp/         unique temporary files; emptied on open
//!   secret.key         0600, seals fetch passwords (made on first use; see `secrets.rs`)
//! ```
//!
//! # sled trees and key formats
//!
//! | tree                | key                                   | value (bincode)              |
//! |---------------------|---------------------------------------|------------------------------|
//! | `meta`              | `"schema"`                            | u32 big endian (= 1)         |
//! | `meta`              | `"uidvalidity"`                       | u32 BE, last one handed out  |
//! | `v1/domains`        | domain (lowercase)                    | `DomainRecord`               |
//! | `v1/accounts`       | address (lowercase)                   | `AccountRecord` (PHC hash)   |
//! | `v1/aliases`        | alias address (lowercase)             | `Vec<String>` targets        |
//! | `v1/folders`        | folder id u64 BE                      | `FolderRecord` (IMAP.MRK)    |
//! | `v1/folder_names`   | account `0x00` name (INBOX uppercase) | folder id u64 BE             |
//! | `v1/messages`       | folder id u64 BE ++ uid u32 BE        | `MessageValue` (save date optional: older values lack it) |
//! | `v1/expunged`       | folder id u64 BE ++ uid u32 BE        | modseq u64 BE                |
//! | `v1/queue/<name>`   | queue id u64 BE                       | `QueueRecord`                |
//! | `v1/blobrefs`       | blob id (32 bytes)                    | refcount u64 BE              |
//! | `v1/folder_ext`     | folder id u64 BE                      | `FolderExt` (counters)       |
//! | `v1/quota`          | account (lowercase)                   | `QuotaRecord`                |
//! | `v1/acl`            | folder id u64 BE                      | `Vec<(identifier, rights)>`  |
//! | `v1/acl_index`      | identifier `0x00` folder id u64 BE    | rights `String`              |
//! | `v1/dkim`           | domain `0x00` selector                | `DkimRecord` (see [`dkim`])  |
//! | `v1/fetch_*`        | see `fetch.rs` (sources, seen marks, status, dedup) |                 |
//! | `v1/mta_sts`        | policy domain (lowercase)             | `CachedStsPolicy`            |
//! | `v1/tlsrpt`         | day u32 BE ++ policy domain           | `Vec<TlsPolicyCounts>`       |
//! | `v1/metadata`       | folder id u64 BE; `0u64` BE [++ account] for the server | `MetadataRecord` (see [`metadata`]) |
//! | `v1/urlauth`        | folder id u64 BE                      | URLAUTH access keys per user (see [`urlauth`]) |
//! | `v1/screen`         | `ip/`, `account/`, `allow/`, `deny/` + name | dynamic screening (see [`screen`]) |
//! | `v1/sender_rights`  | account (lowercase)                   | `SenderRights` (see [`sender_rights`]) |
//!
//! `v1/mta_sts`, `v1/tlsrpt` and `v1/screen` are outside the transactional set (no transaction spans them:
//! a cache and statistics, one key per write).
//!
//! RFC 8474 object ids have no tree: MAILBOXID comes from the folder id and UIDVALIDITY,
//! EMAILID from the blob id (the content's sha256), THREADID from the message's headers (see
//! `protocols::imap::objectid`), so every record, however old, has them.
//!
//! DKIM private keys are files, `data_dir/dkim/<domain>/<selector>.pem` (0600), not sled values.
//!
//! The last four trees (and later `v1/dkim`, `v1/metadata`, `v1/urlauth` and `v1/sender_rights`) were added within schema 1 without changing any older record, so data
//! directories written before them still open: [`Store::open`] rebuilds every `FolderExt` that
//! is missing or out of step with its folder (it records the folder's UIDNEXT and modseq at its
//! last update, and every message change moves one of them), and re-sums the quota usage of
//! the accounts concerned.
//!
//! Public folders belong to the empty owner [`PUBLIC_OWNER`]: their names are keyed `0x00 name`
//! in `v1/folder_names`, and they count against no quota.
//!
//! Big-endian integer keys make sled's byte order the numeric order, so scans come out in UID
//! and queue-id order. bincode is not self-describing: a change to any record's shape bumps the
//! schema version and the tree prefix (`v2/…`), and [`Store::open`] refuses a data directory
//! written by a newer schema ([`StorageError::Schema`]).
//!
//! # Invariants
//!
//! - Every operation that touches more than one key runs in one sled transaction spanning all
//!   trees, so a crash leaves either all or none of it. sled serialises transactions globally.
//! - Blob reference counts change in the same transaction as the records holding them. A count
//!   going 0 → 1 requires the blob file to exist. When a count reaches 0 the file is deleted
//!   after the next commit round that flushed sled (so the release is durable first), by a
//!   second transaction that re-checks the count (so a concurrent re-reference of the same
//!   content wins).
//! - Folder counters (`exists`, unseen, deleted, size, keywords) and account quota usage change
//!   in the same transaction as the messages they count.
//! - UIDs are never reused: `uidnext` only grows, and expunged UIDs are remembered with the
//!   modseq of their expunge (for QRESYNC). UIDVALIDITY comes from a counter in `meta` seeded by
//!   the clock, so a folder deleted and re-created never gets an old value back.
//!
//! # Durability: durable before acknowledged
//!
//! Writes land in sled's memory and log; they are durable only after a flush. A caller that is
//! about to acknowledge something (SMTP `250` after DATA, IMAP APPEND `OK`) first calls
//! [`Store::commit`] (or awaits [`Store::commit_async`]). Commits are grouped: one committer
//! thread takes every waiting request, makes every blob file written since the last round
//! durable with one `syncfs(2)` (contents and renames alike), flushes sled once and answers
//! them all.
//!
//! Ordering against power loss: sled writes its log to the file on every transaction, and
//! the kernel may write that to disk before the body, so a body must be durable before a
//! record referencing it is *inserted*, not merely before the flush. [`BlobStore::put`] and
//! [`BlobStore::finish`] therefore return only after a commit round has synced the file
//! (grouped: one syncfs for all bodies of the round, no fsync per message); a duplicate of a
//! body still waiting for its sync waits too. A sync error other than ENOSYS/EINVAL fails the
//! round and every waiter. At server start [`Store::sweep`] repairs what a crash left: records
//! whose body is missing or short, lost or stale reference counts, orphan body files.

mod acl;
mod blobs;
mod changes;
mod commit;
mod directory;
mod dkim;
mod envelope;
mod fetch;
mod folders;
#[cfg(test)]
mod imap_tests;
mod keys;
mod message_value;
mod messages;
mod metadata;
mod queue;
mod queue_counts;
mod quota;
mod screen;
mod secrets;
mod sender_rights;
mod subscriptions;
mod sweep;
mod tlspolicy;
mod urlauth;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

pub use acl::{normalize_rights, ALL_RIGHTS, ANYONE};
pub use blobs::{BlobId, BlobPin, BlobStore, BlobWriter};
pub use commit::CommitStats;
pub use directory::{
    set_fast_password_hashing_for_tests, Account, AuthOutcome, Destination, RecipientKind,
};
pub use dkim::{normalize_selector, DkimAlgorithm, DkimKey};
pub use envelope::{BodyType, DsnNotify, DsnRet, NotifyList};
pub use fetch::{
    Accepted, Dedup, DomainPop, FetchProtocol, FetchSource, FetchStatus, FetchedMessage, SourceId,
    SourceOwner, TlsMode, UnknownTarget,
};
pub use folders::{
    Flags, FolderId, FolderState, MessageRecord, NewMessage, PUBLIC_OWNER, SEPARATOR,
};
pub use messages::{FlagMode, StoreResult};
pub use metadata::MetadataOwner;
pub use queue::{EnvelopeParams, QueueId, QueueName, QueueRecipient, QueueRecord};
pub use quota::Quota;
pub use screen::{Ban, ScreenRecord, ScreenRule, ScreenSnapshot};
pub use secrets::SecretKey;
pub use sender_rights::{SenderEntry, SenderRights};
pub use sweep::{SweepReport, DAMAGED_KEYWORD, ORPHAN_GRACE};
pub use tlspolicy::{add_result, CachedStsPolicy, TlsFailureCount, TlsPolicyCounts, TlsResult};

use commit::{CommitQueue, Committer};
use keys::TreeIx;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Expunged UIDs remembered per folder for QRESYNC (RFC 7162 §3.2.5.2).
const EXPUNGED_KEEP: u32 = 100_000;

/// Errors of the storage layer. The `String` payloads name the subject so that the message reads
/// well on a console: `Exists("account bob@example.com")` prints
/// "account bob@example.com already exists".
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Db(#[from] sled::Error),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("unreadable stored record: {0}")]
    Encoding(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "the data directory uses storage schema version {found}, this build supports only up to \
         version {supported}: run a newer Ferrymail"
    )]
    Schema { found: u32, supported: u32 },
    #[error("{0}")]
    Conflict(String),
    /// RFC 9208: the change would exceed the account's limit on `resource` ("STORAGE" or
    /// "MESSAGE").
    #[error("over quota: the {resource} limit would be exceeded")]
    OverQuota { resource: &'static str },
}

impl StorageError {
    /// A copy for answering several waiters with one failure (sled errors clone, io errors keep
    /// their kind and text).
    pub(crate) fn duplicate(&self) -> StorageError {
        match self {
            StorageError::Db(e) => StorageError::Db(e.clone()),
            StorageError::Io(e) => StorageError::Io(match e.raw_os_error() {
                // Callers look at the errno (ENOSPC: 452, EIO: 451).
                Some(errno) => std::io::Error::from_raw_os_error(errno),
                None => std::io::Error::new(e.kind(), e.to_string()),
            }),
            StorageError::Encoding(s) => StorageError::Encoding(s.clone()),
            StorageError::Exists(s) => StorageError::Exists(s.clone()),
            StorageError::NotFound(s) => StorageError::NotFound(s.clone()),
            StorageError::Invalid(s) => StorageError::Invalid(s.clone()),
            StorageError::Schema { found, supported } => StorageError::Schema {
                found: *found,
                supported: *supported,
            },
            StorageError::Conflict(s) => StorageError::Conflict(s.clone()),
            StorageError::OverQuota { resource } => StorageError::OverQuota { resource },
        }
    }
}

/// Result of a closure run inside a transaction.
pub(crate) type TxResult<T> = Result<T, ConflictableTransactionError<StorageError>>;

/// Abort the running transaction with `e`.
pub(crate) fn abort<T>(e: StorageError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

/// The view of all trees inside one transaction.
pub(crate) struct Tx<'a> {
    trees: &'a [TransactionalTree],
}

impl Tx<'_> {
    pub(crate) fn tree(&self, ix: TreeIx) -> &TransactionalTree {
        &self.trees[ix.index()]
    }
}

/// [`Store::transact`] on `trees` (every tree, indexed by [`TreeIx::index`]).
pub(crate) fn transact_on<T>(
    trees: &[sled::Tree],
    f: impl Fn(&Tx) -> TxResult<T>,
) -> Result<T, StorageError> {
    trees
        .transaction(|trees: &Vec<TransactionalTree>| f(&Tx { trees }))
        .map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StorageError::Db(e),
        })
}

/// Opens sled. Its file lock can outlive the last handle of a store closed a moment ago
/// (sled's IO threads finish their work first), so a lock conflict is retried for up to two
/// seconds before it is reported: a restart in the same process, or right after the previous
/// process exited, must not fail on that.
fn open_db(dir: &Path) -> Result<sled::Db, StorageError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match sled::Config::new().path(dir).open() {
            // sled reports the flock conflict as an `Other` error with this text.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return Ok(other?),
        }
    }
}

/// The handle on a data directory. Cheap to clone; every clone shares one sled database, one
/// blob store and one committer thread, which stops when the last clone is dropped.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    // Field order matters for Drop: the committer (which holds a Db clone) stops first.
    committer: Committer,
    db: sled::Db,
    /// Indexed by [`TreeIx::index`].
    trees: Vec<sled::Tree>,
    blobs: Arc<BlobStore>,
    /// Serialises the structural operations that scan and then write (domain, account, alias
    /// and folder creation/deletion), since sled transactions cannot scan.
    admin_lock: Mutex<()>,
    /// How many expunged UIDs a folder remembers for QRESYNC (see [`Store::vanished_horizon`]).
    expunged_keep: AtomicU32,
    /// The data directory.
    root: PathBuf,
    /// The key sealing fetch passwords, loaded (or made) on first use.
    secret_key: Mutex<Option<Arc<SecretKey>>>,
    /// Queue depths, counted once at open and moved by every commit since.
    queue_counts: queue_counts::QueueCounts,
}

impl Store {
    /// Open (creating when needed) the data directory: `data_dir/db` for sled and
    /// `data_dir/blobs` for bodies. Refuses a database written by a newer schema.
    pub fn open(data_dir: &Path) -> Result<Store, StorageError> {
        std::fs::create_dir_all(data_dir)?;
        let db_dir = data_dir.join("db");
        std::fs::create_dir_all(&db_dir)?;
        let commits = CommitQueue::new();
        let blobs = Arc::new(BlobStore::open(&data_dir.join("blobs"), commits.clone())?);
        let db = open_db(&db_dir)?;
        let meta = db.open_tree(keys::META_TREE)?;
        check_schema(&meta)?;
        let mut trees = Vec::with_capacity(TreeIx::COUNT);
        for ix in TreeIx::all() {
            trees.push(db.open_tree(ix.tree_name())?);
        }
        db.flush()?;
        let queue_counts =
            queue_counts::QueueCounts::scan(|q| trees[TreeIx::Queue(q).index()].len());
        let committer = Committer::start(
            commits,
            commit::Target {
                db: db.clone(),
                trees: trees.clone(),
                blobs: blobs.clone(),
            },
        )?;
        let store = Store {
            inner: Arc::new(Inner {
                committer,
                db,
                trees,
                blobs,
                admin_lock: Mutex::new(()),
                expunged_keep: AtomicU32::new(EXPUNGED_KEEP),
                root: data_dir.to_path_buf(),
                secret_key: Mutex::new(None),
                queue_counts,
            }),
        };
        store.repair_counters()?;
        Ok(store)
    }

    /// How many expunged UIDs each folder keeps (at least; trimming runs in batches).
    pub(crate) fn expunged_keep(&self) -> u32 {
        self.inner.expunged_keep.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub(crate) fn set_expunged_keep(&self, keep: u32) {
        self.inner.expunged_keep.store(keep, Ordering::Relaxed);
    }

    /// The message body store.
    pub fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    /// Make everything written so far durable (blob files synced, sled flushed). Blocks
    /// until the committer thread has done a flush that started after this call.
    pub fn commit(&self) -> Result<(), StorageError> {
        self.inner.committer.queue().commit()
    }

    /// [`Store::commit`] for async callers: the request is queued at once; the future resolves
    /// when a flush covering it has finished.
    pub fn commit_async(
        &self,
    ) -> impl std::future::Future<Output = Result<(), StorageError>> + Send + 'static {
        self.inner.committer.queue().commit_async()
    }

    /// Runs `write` (a record write) on the commit thread once every body file written
    /// before this call is durable, then flushes sled; resolves after that flush. Bodies
    /// written with [`BlobStore::write_pinned`] (not yet durable) are referenced this way,
    /// so that the record can never reach the disk before its body, in one commit round.
    /// `write` reports its own outcome (e.g. through a channel); it is dropped without
    /// running when the sync fails, and the future then gives the error.
    pub fn write_after_sync(
        &self,
        write: impl FnOnce() + Send + 'static,
    ) -> impl std::future::Future<Output = Result<(), StorageError>> + Send + 'static {
        self.inner
            .committer
            .queue()
            .write_after_sync(Box::new(write))
    }

    /// Counters of the group committer.
    pub fn commit_stats(&self) -> CommitStats {
        self.inner.committer.queue().stats()
    }

    /// Makes the sync step of the next `rounds` commit rounds fail with EIO, as a failing
    /// disk would: their waiters (body writers, commits) get the error.
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn inject_sync_errors(&self, rounds: u32) {
        self.inner.committer.queue().inject_sync_errors(rounds);
    }

    pub(crate) fn queue_counts(&self) -> &queue_counts::QueueCounts {
        &self.inner.queue_counts
    }

    /// The sled tree for `ix`, for reads and scans outside transactions.
    pub(crate) fn tree(&self, ix: TreeIx) -> &sled::Tree {
        &self.inner.trees[ix.index()]
    }

    /// Run `f` in one transaction over every tree. `f` may run more than once, so it must not
    /// have side effects outside the transaction.
    pub(crate) fn transact<T>(&self, f: impl Fn(&Tx) -> TxResult<T>) -> Result<T, StorageError> {
        transact_on(&self.inner.trees, f)
    }

    /// Take the lock that serialises scan-then-write structural operations.
    pub(crate) fn admin_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // A poisoned lock only means another thread panicked while holding it; the data it
        // guards lives in sled, which the transaction kept consistent.
        self.inner
            .admin_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The data directory's sled database (for ids).
    pub(crate) fn db(&self) -> &sled::Db {
        &self.inner.db
    }

    /// The data directory the store was opened on.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The key that seals secrets (`data_dir/secret.key`, made on first use).
    pub(crate) fn secret_key(&self) -> Result<Arc<SecretKey>, StorageError> {
        let mut slot = self
            .inner
            .secret_key
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(k) = slot.as_ref() {
            return Ok(k.clone());
        }
        let key = Arc::new(SecretKey::load_or_create(&self.inner.root)?);
        *slot = Some(key.clone());
        Ok(key)
    }

    /// Where the blob files live.
    pub fn blob_root(&self) -> PathBuf {
        self.inner.blobs.root().to_path_buf()
    }
}

fn check_schema(meta: &sled::Tree) -> Result<(), StorageError> {
    match meta.get(keys::SCHEMA_KEY)? {
        None => {
            meta.insert(keys::SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
            Ok(())
        }
        Some(v) => {
            let found = keys::decode_u32(&v, "schema version")?;
            if found > SCHEMA_VERSION {
                Err(StorageError::Schema {
                    found,
                    supported: SCHEMA_VERSION,
                })
            } else {
                Ok(())
            }
        }
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// [`testutil::store_with_bob`] for tests outside the storage module.
#[cfg(test)]
pub(crate) fn testutil_store_with_bob() -> (tempfile::TempDir, Store) {
    testutil::store_with_bob()
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// A fresh store in a temporary directory, with cheap password hashing.
    pub(crate) fn store() -> (tempfile::TempDir, Store) {
        set_fast_password_hashing_for_tests(true);
        let dir = tempfile::TempDir::new().expect("temp dir");
        let store = Store::open(dir.path()).expect("open store");
        (dir, store)
    }

    /// Waits until the blobs released so far are collected: the committer deletes them after
    /// answering the round that made their release durable, and a second round starts only
    /// after that.
    pub(crate) fn settle(store: &Store) {
        store.commit().expect("commit");
        store.commit().expect("commit");
    }

    /// A store with domain example.com and account bob@example.com.
    pub(crate) fn store_with_bob() -> (tempfile::TempDir, Store) {
        let (dir, store) = store();
        store.add_domain("example.com").expect("domain");
        store
            .add_account("bob@example.com", "secret", false)
            .expect("account");
        (dir, store)
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn open_creates_layout_and_schema() {
        let (dir, store) = store();
        assert!(dir.path().join("db").is_dir());
        assert!(dir.path().join("blobs").is_dir());
        let meta = store.db().open_tree(keys::META_TREE).unwrap();
        assert_eq!(
            meta.get(keys::SCHEMA_KEY).unwrap().unwrap().as_ref(),
            &1u32.to_be_bytes()
        );
    }

    #[test]
    fn open_refuses_newer_schema() {
        let dir = tempfile::TempDir::new().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let meta = store.db().open_tree(keys::META_TREE).unwrap();
            meta.insert(keys::SCHEMA_KEY, &7u32.to_be_bytes()).unwrap();
            store.commit().unwrap();
        }
        let err = Store::open(dir.path()).err().expect("must refuse");
        assert!(matches!(
            err,
            StorageError::Schema {
                found: 7,
                supported: 1
            }
        ));
        assert!(err.to_string().contains("schema version 7"), "{err}");
    }

    #[test]
    fn handles_cross_threads() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Store>();
        assert_send_sync::<StorageError>();
        assert_send_sync::<BlobStore>();
    }

    #[test]
    fn error_messages_read_well() {
        assert_eq!(
            StorageError::Exists("account bob@example.com".into()).to_string(),
            "account bob@example.com already exists"
        );
        assert_eq!(
            StorageError::NotFound("domain example.org".into()).to_string(),
            "domain example.org not found"
        );
    }

    #[test]
    fn reopen_after_drop_of_all_clones() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let clone = store.clone();
        drop(store);
        clone.add_domain("example.com").unwrap();
        drop(clone);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.list_domains().unwrap(), vec!["example.com"]);
    }
}
