//! The embedded backend: an index in sled (`data_dir/db`, one process owns it) beside the
//! shared blob file store. It implements every trait of `storage::traits`; nothing outside
//! this module names sled.
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
//! | `v1/dkim`           | domain `0x00` selector                | `DkimRecord` (see `dkim.rs`)  |
//! | `v1/fetch_*`        | see `fetch.rs` (sources, seen marks, status, dedup) |                 |
//! | `v1/mta_sts`        | policy domain (lowercase)             | `CachedStsPolicy`            |
//! | `v1/tlsrpt`         | day u32 BE ++ policy domain           | `Vec<TlsPolicyCounts>`       |
//! | `v1/metadata`       | folder id u64 BE; `0u64` BE [++ account] for the server | `MetadataRecord` (see `metadata.rs`) |
//! | `v1/urlauth`        | folder id u64 BE                      | URLAUTH access keys per user (see `urlauth.rs`) |
//! | `v1/screen`         | `ip/`, `account/`, `allow/`, `deny/` + name | dynamic screening (see `screen.rs`) |
//! | `v1/sender_rights`  | account (lowercase)                   | `SenderRights` (see `sender_rights.rs`) |
//! | `v1/totp`           | account (lowercase)                   | `TotpState` (see `webauth.rs`) |
//! | `v1/api_keys`       | key id (8 hex digits)                 | `ApiKeyRecord` (see `webauth.rs`) |
//! | `v1/snooze`         | wake time ++ record id (see `snooze.rs`) | `SnoozeRecord`            |
//! | `v1/snooze_ids`     | record id u64 BE                      | its `v1/snooze` key          |
//! | `v1/devices`        | account `0x00` device id (16 hex digits) | `DeviceRecord` (see `devices.rs`) |
//! | `v1/dav_*`          | see `davstore.rs` (calendars, address books, their objects and changes) | |
//!
//! `v1/mta_sts`, `v1/tlsrpt` and `v1/screen` are outside the transactional set (no transaction spans them:
//! a cache and statistics, one key per write). The two snooze trees are outside it too: their own
//! transaction spans just them.
//!
//! RFC 8474 object ids have no tree: MAILBOXID comes from the folder id and UIDVALIDITY,
//! EMAILID from the blob id (the content's sha256), THREADID from the message's headers (see
//! `protocols::imap::objectid`), so every record, however old, has them.
//!
//! DKIM private keys are files, `data_dir/dkim/<domain>/<selector>.pem` (0600), not sled values.
//!
//! The last four trees (and later `v1/dkim`, `v1/metadata`, `v1/urlauth`, `v1/sender_rights`, `v1/totp`, `v1/api_keys` and `v1/devices`) were added within schema 1 without changing any older record, so data
//! directories written before them still open: [`SledStore::open`] rebuilds every `FolderExt` that
//! is missing or out of step with its folder (it records the folder's UIDNEXT and modseq at its
//! last update, and every message change moves one of them), and re-sums the quota usage of
//! the accounts concerned.
//!
//! Public folders belong to the empty owner [`PUBLIC_OWNER`]: their names are keyed `0x00 name`
//! in `v1/folder_names`, and they count against no quota.
//!
//! Big-endian integer keys make sled's byte order the numeric order, so scans come out in UID
//! and queue-id order. bincode is not self-describing: a change to any record's shape bumps the
//! schema version and the tree prefix (`v2/…`), and [`SledStore::open`] refuses a data directory
//! written by a newer schema ([`StorageError::Schema`]).
//!
//! Every operation that touches more than one key runs in one sled transaction spanning all
//! trees (sled serialises transactions globally), which gives the atomicity the traits
//! promise. sled writes its log to the file on every transaction, so a record can reach the
//! disk before any flush of ours: bodies are made durable before their records are inserted
//! (see `storage::commit`).

mod acl;
mod backend;
mod blobrefs;
mod changes;
#[cfg(test)]
mod commit_tests;
#[cfg(test)]
mod conformance_tests;
mod davfiles;
mod davstore;
mod devices;
mod directory;
mod dkim;
mod export;
mod fetch;
mod folder_record;
mod folders;
#[cfg(test)]
mod imap_tests;
mod keys;
mod message_value;
mod messages;
mod metadata;
mod queue;
mod queue_counts;
mod queue_index;
mod quota;
mod screen;
mod sender_rights;
mod snooze;
mod subscriptions;
mod sweep;
mod tlspolicy;
mod urlauth;
mod webauth;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use super::commit::{self, CommitQueue, Committer, IndexFlush};
use super::{
    BlobId, BlobStore, CommitStats, SecretKey, StorageError, Store, Writers, SCHEMA_VERSION,
};
use keys::TreeIx;

use super::now_secs;

/// Expunged UIDs remembered per folder for QRESYNC (RFC 7162 §3.2.5.2).
const EXPUNGED_KEEP: u32 = 100_000;

impl From<sled::Error> for StorageError {
    /// sled's failures reach callers as [`StorageError::Backend`], worded as sled words them.
    fn from(e: sled::Error) -> StorageError {
        StorageError::Backend(e.to_string())
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

/// [`SledStore::transact`] on `trees` (every tree, indexed by [`TreeIx::index`]).
pub(crate) fn transact_on<T>(
    trees: &[sled::Tree],
    f: impl Fn(&Tx) -> TxResult<T>,
) -> Result<T, StorageError> {
    trees
        .transaction(|trees: &Vec<TransactionalTree>| f(&Tx { trees }))
        .map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => e.into(),
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

/// The embedded backend on a data directory. Cheap to clone; every clone shares one sled
/// database, one blob store and one committer thread, which stops when the last clone is
/// dropped.
#[derive(Clone)]
pub(crate) struct SledStore {
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
    /// How many expunged UIDs a folder remembers for QRESYNC (see [`SledStore::vanished_horizon`]).
    expunged_keep: AtomicU32,
    /// The data directory.
    root: PathBuf,
    /// The key sealing fetch passwords, loaded (or made) on first use.
    secret_key: Mutex<Option<Arc<SecretKey>>>,
    /// Queue depths, counted once at open and moved by every commit since.
    queue_counts: queue_counts::QueueCounts,
}

impl Store {
    /// Open (creating when needed) the data directory with the embedded backend:
    /// `data_dir/db` for the index and `data_dir/blobs` for bodies. Refuses a database
    /// written by a newer schema ([`StorageError::Schema`]).
    /// The write handles come with it, once (see [`Writers`]).
    pub fn open(data_dir: &Path) -> Result<(Store, Writers), StorageError> {
        Ok(Store::new(Arc::new(SledStore::open(data_dir)?)))
    }

    /// [`Store::open`] with the bodies in `blobs` instead of `data_dir/blobs`.
    pub fn open_sled(
        data_dir: &Path,
        blobs: Option<&Path>,
    ) -> Result<(Store, Writers), StorageError> {
        Ok(Store::new(Arc::new(SledStore::open_at(data_dir, blobs)?)))
    }
}

/// The committer's view of sled: the flush that makes a round's records durable, and the
/// collection of released blobs after it.
struct SledIndex {
    db: sled::Db,
    trees: Vec<sled::Tree>,
}

impl IndexFlush for SledIndex {
    fn flush(&self) -> Result<(), StorageError> {
        self.db.flush()?;
        Ok(())
    }

    fn collect(&self, blobs: &BlobStore, released: &[BlobId]) {
        blobrefs::collect(&self.trees, blobs, released);
    }
}

impl SledStore {
    /// Open (creating when needed) the data directory: `data_dir/db` for sled and
    /// `data_dir/blobs` for bodies. Refuses a database written by a newer schema.
    pub(crate) fn open(data_dir: &Path) -> Result<SledStore, StorageError> {
        SledStore::open_at(data_dir, None)
    }

    /// [`SledStore::open`] with the bodies in `blobs` (default `data_dir/blobs`).
    pub(crate) fn open_at(
        data_dir: &Path,
        blobs: Option<&Path>,
    ) -> Result<SledStore, StorageError> {
        std::fs::create_dir_all(data_dir)?;
        let db_dir = data_dir.join("db");
        std::fs::create_dir_all(&db_dir)?;
        let commits = CommitQueue::new();
        let blob_root = blobs
            .map(Path::to_path_buf)
            .unwrap_or_else(|| data_dir.join("blobs"));
        let blobs = Arc::new(BlobStore::open(&blob_root, Box::new(commits.clone()))?);
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
                index: Box::new(SledIndex {
                    db: db.clone(),
                    trees: trees.clone(),
                }),
                blobs: blobs.clone(),
            },
        )?;
        let store = SledStore {
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
        store.ensure_queue_index()?;
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
    pub(crate) fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    /// Make everything written so far durable (blob files synced, sled flushed). Blocks
    /// until the committer thread has done a flush that started after this call.
    pub(crate) fn commit(&self) -> Result<(), StorageError> {
        self.inner.committer.queue().commit()
    }

    /// [`SledStore::commit`] for async callers: the request is queued at once; the future resolves
    /// when a flush covering it has finished.
    pub(crate) fn commit_async(
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
    pub(crate) fn write_after_sync(
        &self,
        write: commit::AfterSync,
    ) -> impl std::future::Future<Output = Result<(), StorageError>> + Send + 'static {
        self.inner.committer.queue().write_after_sync(write)
    }

    /// Counters of the group committer.
    pub(crate) fn commit_stats(&self) -> CommitStats {
        self.inner.committer.queue().stats()
    }

    /// Makes the sync step of the next `rounds` commit rounds fail with EIO, as a failing
    /// disk would: their waiters (body writers, commits) get the error.
    #[cfg(any(test, feature = "fault-injection"))]
    pub(crate) fn inject_sync_errors(&self, rounds: u32) {
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
    pub(crate) fn root(&self) -> &Path {
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
    pub(crate) fn blob_root(&self) -> PathBuf {
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

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use crate::storage::set_fast_password_hashing_for_tests;
    use crate::storage::Queue;

    /// A fresh store in a temporary directory, with cheap password hashing.
    pub(crate) fn store() -> (tempfile::TempDir, SledStore) {
        set_fast_password_hashing_for_tests(true);
        let dir = tempfile::TempDir::new().expect("temp dir");
        let store = SledStore::open(dir.path()).expect("open store");
        (dir, store)
    }

    /// Waits until the blobs released so far are collected: the committer deletes them after
    /// answering the round that made their release durable, and a second round starts only
    /// after that.
    pub(crate) fn settle(store: &SledStore) {
        store.commit().expect("commit");
        store.commit().expect("commit");
    }

    /// A queue record for `rcpts` with a durable body, not yet put anywhere.
    pub(crate) fn record(
        store: &SledStore,
        queue: crate::storage::QueueName,
        body: &[u8],
        rcpts: &[&str],
    ) -> crate::storage::QueueRecord {
        let blob = store.blobs().put(body).unwrap();
        crate::storage::QueueRecord {
            id: store.next_queue_id().unwrap(),
            queue,
            blob,
            size: body.len() as u64,
            mail_from: "alice@remote.example".into(),
            recipients: rcpts
                .iter()
                .map(|r| crate::storage::QueueRecipient::new(r))
                .collect(),
            params: crate::storage::EnvelopeParams::default(),
            received_at: 1_700_000_000,
            due: None,
            attempts: 0,
            last_error: None,
            origin: "smtp from [192.0.2.1] helo test".into(),
            auth_as: None,
            folder: None,
            history: Vec::new(),
        }
    }

    /// A store with domain example.com and account bob@example.com.
    pub(crate) fn store_with_bob() -> (tempfile::TempDir, SledStore) {
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
            let store = SledStore::open(dir.path()).unwrap();
            let meta = store.db().open_tree(keys::META_TREE).unwrap();
            meta.insert(keys::SCHEMA_KEY, &7u32.to_be_bytes()).unwrap();
            store.commit().unwrap();
        }
        let err = SledStore::open(dir.path()).err().expect("must refuse");
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
    fn reopen_after_drop_of_all_clones() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let clone = store.clone();
        drop(store);
        clone.add_domain("example.com").unwrap();
        drop(clone);
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.list_domains().unwrap(), vec!["example.com"]);
    }
}
