//! Storage: the synchronous, typed layer that keeps domains, accounts, folders, messages and
//! queue records (the index) and message bodies (the blob directory). Actors call it from
//! blocking contexts; it never touches actix or sockets.
//!
//! Callers hold a [`Store`], a cheap-clone handle on one backend through the traits of
//! [`traits`] (directory, folders and their writes, queue and its writes, blobs, durability
//! and the smaller stores). The embedded backend is the only one today; its on-disk layout and
//! key formats are tabled in its module. Values that every backend stores and returns
//! ([`Flags`], [`FolderId`], [`MessageRecord`], [`QueueRecord`], [`QueueName`], …) live here,
//! beside the blob file store ([`BlobStore`]) and the group committer that every backend
//! shares.
//!
//! # Layout of the data directory
//!
//! ```text
//! data_dir/
//!   db/                the index (the backend's files)
//!   blobs/ab/cdef…     message bodies, named by the sha256 of their content (64 hex chars:
//!                      the first two name the directory, the other 62 the file)
//!   blobs/tmp/         unique temporary files; emptied on open
//!   secret.key         0600, seals fetch passwords (made on first use; see `secrets.rs`)
//! ```
//!
//! RFC 8474 object ids are not stored: MAILBOXID comes from the folder id and UIDVALIDITY,
//! EMAILID from the blob id (the content's sha256), THREADID from the message's headers (see
//! `protocols::imap::objectid`), so every record, however old, has them.
//!
//! In the embedded backend, DKIM private keys are files,
//! `data_dir/dkim/<domain>/<selector>.pem` (0600), not index values; the PostgreSQL backend
//! keeps them, and the key `secret.key` holds, in the database that every node shares.
//! Public folders belong to the empty owner [`PUBLIC_OWNER`], and count against no quota.
//!
//! # Invariants (every backend)
//!
//! - Every operation that touches more than one record is atomic: a crash leaves either all or
//!   none of it.
//! - Blob reference counts change in the same atomic step as the records holding them. A
//!   count going 0 → 1 requires the blob file to exist. When a count reaches 0 the file is
//!   deleted after the next commit round that flushed the index (so the release is durable
//!   first), by a second atomic step that re-checks the count (so a concurrent re-reference
//!   of the same content wins).
//! - Folder counters (`exists`, unseen, deleted, size, keywords) and account quota usage
//!   change in the same atomic step as the messages they count.
//! - UIDs are never reused: `uidnext` only grows, and expunged UIDs are remembered with the
//!   modseq of their expunge (for QRESYNC). UIDVALIDITY comes from a counter seeded by the
//!   clock, so a folder deleted and re-created never gets an old value back.
//!
//! # Durability: durable before acknowledged
//!
//! Writes are durable only after a commit round. A caller that is about to acknowledge
//! something (SMTP `250` after DATA, IMAP APPEND `OK`) first calls
//! [`Durability::commit`] (or awaits [`Durability::commit_async`]). Commits are grouped: one
//! committer thread takes every waiting request, makes every blob file written since the last
//! round durable with one `syncfs(2)` (contents and renames alike), flushes the index once
//! and answers them all.
//!
//! Ordering against power loss: an index may write its log to the file on every write, and
//! the kernel may write that to disk before the body, so a body must be durable before a
//! record referencing it is *inserted*, not merely before the flush. [`BlobStore::put`] and
//! [`BlobStore::finish`] therefore return only after a commit round has synced the file
//! (grouped: one syncfs for all bodies of the round, no fsync per message); a duplicate of a
//! body still waiting for its sync waits too. A sync error other than ENOSYS/EINVAL fails the
//! round and every waiter. At server start [`Durability::sweep`] repairs what a crash left:
//! records whose body is missing or short, lost or stale reference counts, orphan body files.

mod acl;
mod blobs;
pub mod check;
pub mod check_dav;
mod commit;
#[cfg(any(test, feature = "fault-injection"))]
pub mod conformance;
pub mod davfiles;
pub mod davstore;
mod devices;
mod directory;
mod dkim;
mod dump;
mod envelope;
mod fetch;
mod folders;
mod messages;
mod metadata;
pub mod migrate;
#[cfg(test)]
mod migrate_tests;
mod pg;
mod queue;
mod queue_codec;
mod queue_index;
mod quota;
mod screen;
mod secrets;
mod sender_rights;
mod sled;
pub mod snooze;
mod sweep;
mod tlspolicy;
pub mod traits;
mod urlauth;
mod webauth;
#[cfg(any(test, feature = "fault-injection"))]
pub use pg::testing as pg_testing;

use std::sync::Arc;

pub use acl::{normalize_rights, ALL_RIGHTS, ANYONE};
pub use blobs::{BlobId, BlobPin, BlobStore, BlobWriter};
pub use commit::{AfterSync, CommitStats};
pub use davfiles::{DavFileStore, DavFiles};
pub use devices::{DeviceRecord, DeviceStore};
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
pub use queue::{
    AttemptOutcome, DeliveryAttempt, EnvelopeParams, QueueId, QueueName, QueueRecipient,
    QueueRecord, HISTORY_ATTEMPTS,
};
pub use queue_codec::{HeadRecipient, Keep, QueueHead};
pub use queue_index::{index_domains, record_domains, PageStart, QueueIndex, QueueView};
pub use quota::Quota;
pub use screen::{Ban, ScreenRecord, ScreenRule, ScreenSnapshot};
pub use secrets::SecretKey;
pub use sender_rights::{SenderEntry, SenderRights};
pub use snooze::{SnoozeRecord, SnoozeStore};
pub use sweep::{SweepReport, DAMAGED_KEYWORD, ORPHAN_GRACE};
pub use tlspolicy::{add_result, CachedStsPolicy, TlsFailureCount, TlsPolicyCounts, TlsResult};
pub use traits::{
    Backend, BlobRefs, CatalogWrites, Cluster, ClusterEvent, CommitFuture, Directory, DkimStore,
    Durability, FetchStore, FolderWrites, Folders, Lease, NodeInfo, Queue, QueueWrites, Screening,
    SenderRightsStore, Shared, TlsPolicyStore, WebAuth,
};
pub use webauth::{ApiKeyRecord, TotpState};

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Errors of the storage layer. The `String` payloads name the subject so that the message reads
/// well on a console: `Exists("account bob@example.com")` prints
/// "account bob@example.com already exists". No variant names a backend: a backend's own
/// failures arrive as [`StorageError::Backend`] (the backend converts them).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The backend failed (its storage, its connection, a corrupt file): the text is its
    /// error's.
    #[error("database error: {0}")]
    Backend(String),
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
    /// The queue record a delivery was to consume is no longer in its queue (delivered
    /// whole by another attempt, deleted or moved): unlike Conflict (this recipient was
    /// already delivered), there is nothing left to report for it.
    #[error("{0}")]
    Gone(String),
    /// RFC 9208: the change would exceed the account's limit on `resource` ("STORAGE" or
    /// "MESSAGE").
    #[error("over quota: the {resource} limit would be exceeded")]
    OverQuota { resource: &'static str },
}

impl StorageError {
    /// A copy for answering several waiters with one failure (io errors keep their kind and
    /// text).
    pub(crate) fn duplicate(&self) -> StorageError {
        match self {
            StorageError::Backend(s) => StorageError::Backend(s.clone()),
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
            StorageError::Gone(s) => StorageError::Gone(s.clone()),
            StorageError::OverQuota { resource } => StorageError::OverQuota { resource },
        }
    }
}

/// The handle on a data directory's storage that everyone holds: one backend, offering its
/// [`Shared`] part directly (`store.folder_state(…)`, `store.commit()`). Folder message
/// state and queue records are not written through it: those writes need the
/// [`FolderWriter`] and [`QueueWriter`] that come with it, once, from [`Store::new`] or
/// `Store::open`. Cheap to clone; every clone shares the backend.
///
/// ```compile_fail
/// # fn f(store: &ferrymail::storage::Store, rec: &ferrymail::storage::QueueRecord) {
/// store.queue_put(rec); // queue records: only the queue actors' QueueWriter
/// # }
/// ```
///
/// ```compile_fail
/// # fn f(store: &ferrymail::storage::Store, folder: ferrymail::storage::FolderId) {
/// store.claim_recent(folder); // folder state: only the folder actors' FolderWriter
/// # }
/// ```
///
/// The same calls on the write handles compile:
///
/// ```
/// # fn f(w: &ferrymail::storage::Writers, rec: &ferrymail::storage::QueueRecord) {
/// # let folder: ferrymail::storage::FolderId = 1;
/// let _ = w.queues.queue_put(rec);
/// let _ = w.folders.claim_recent(folder);
/// # }
/// ```
#[derive(Clone)]
pub struct Store(Arc<dyn Backend>);

/// The write handles that come with a newly opened store, once: the server moves them into
/// the folder registry and the queue actors (private fields there), so nothing else in the
/// crate can reach them.
pub struct Writers {
    pub folders: FolderWriter,
    pub queues: QueueWriter,
}

/// The only way to a folder's message-state mutations ([`FolderWrites`]). Made by
/// [`Store::new`] alone; cloned only by its owner (the folder registry hands one to each
/// folder actor).
#[derive(Clone)]
pub struct FolderWriter(Arc<dyn Backend>);

/// The only way to queue-record mutations ([`QueueWrites`]). Made by [`Store::new`] alone;
/// owned by the queue actors.
#[derive(Clone)]
pub struct QueueWriter(Arc<dyn Backend>);

impl Store {
    /// A handle on `backend`, with its write handles.
    pub fn new(backend: Arc<dyn Backend>) -> (Store, Writers) {
        let writers = Writers {
            folders: FolderWriter(backend.clone()),
            queues: QueueWriter(backend.clone()),
        };
        (Store(backend), writers)
    }

    /// Opens the backend `storage` names on `data_dir` (see `[storage]` in the
    /// configuration), with its write handles.
    pub fn open_configured(
        data_dir: &std::path::Path,
        storage: &crate::config::StorageConfig,
    ) -> Result<(Store, Writers), StorageError> {
        match &storage.backend {
            crate::config::StorageBackend::Sled => {
                Store::open_sled(data_dir, storage.blobs.as_deref())
            }
            crate::config::StorageBackend::Postgres(pg) => {
                Store::open_postgres(data_dir, storage.blobs.as_deref(), pg)
            }
        }
    }

    /// [`Durability::write_after_sync`] for any closure.
    pub fn write_after_sync(&self, write: impl FnOnce() + Send + 'static) -> CommitFuture {
        self.0.write_after_sync(Box::new(write))
    }
}

impl std::ops::Deref for Store {
    type Target = dyn Shared;

    fn deref(&self) -> &(dyn Shared + 'static) {
        self.0.shared()
    }
}

impl FolderWriter {
    /// [`FolderWrites::update_maildrop`] for any closure.
    pub fn update_maildrop(
        &self,
        folder: FolderId,
        seen: &[u32],
        deleted: &[u32],
        between: impl Fn() -> Result<(), StorageError>,
    ) -> Result<(StoreResult, u64), StorageError> {
        self.0.update_maildrop(folder, seen, deleted, &between)
    }
}

impl std::ops::Deref for FolderWriter {
    type Target = dyn FolderWrites;

    fn deref(&self) -> &(dyn FolderWrites + 'static) {
        self.0.folder_writes()
    }
}

impl std::ops::Deref for QueueWriter {
    type Target = dyn QueueWrites;

    fn deref(&self) -> &(dyn QueueWrites + 'static) {
        self.0.queue_writes()
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

/// Fresh stores for tests outside the storage module (the embedded backend).
#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// A fresh store in a temporary directory, with cheap password hashing.
    pub(crate) fn store() -> (tempfile::TempDir, Store) {
        let (dir, store, _) = opened();
        (dir, store)
    }

    /// [`store`] with its write handles.
    pub(crate) fn opened() -> (tempfile::TempDir, Store, Writers) {
        set_fast_password_hashing_for_tests(true);
        let dir = tempfile::TempDir::new().expect("temp dir");
        let (store, writers) = Store::open(dir.path()).expect("open store");
        (dir, store, writers)
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
    use super::*;

    #[test]
    fn handles_cross_threads() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Store>();
        assert_send_sync::<FolderWriter>();
        assert_send_sync::<QueueWriter>();
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
        assert_eq!(
            StorageError::Backend("corrupted log".into()).to_string(),
            "database error: corrupted log"
        );
    }
}
