//! The storage interface: what the rest of the server needs from a backend, shaped by its
//! callers. A backend (the embedded one today, PostgreSQL next) implements every trait here;
//! [`Backend`] bundles them and [`super::Store`] is the cheap-clone handle callers hold.
//!
//! Reads and writes of folders and queues are separate traits ([`Folders`] and
//! [`FolderWrites`], [`Queue`] and [`QueueWrites`]): [`super::Store`] offers only
//! [`Shared`] (reads, [`CatalogWrites`] and the rest), and the mutations are reachable only
//! through the [`super::FolderWriter`] and [`super::QueueWriter`] made when the store is
//! opened, which the folder and queue actors own. Every trait is object safe
//! (closures are boxed, futures are boxed) and `Send + Sync`. `conformance` holds the
//! behaviour every backend must show.

use std::collections::HashSet;
use std::future::Future;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use super::*;

/// What [`Durability::commit_async`] and [`Durability::write_after_sync`] return: resolves
/// when a commit round covering the request has finished.
pub type CommitFuture = Pin<Box<dyn Future<Output = Result<(), StorageError>> + Send + 'static>>;

/// Domains, accounts (credentials as argon2id PHC strings), aliases, recipient resolution,
/// and the account-level quota limits.
pub trait Directory: Send + Sync {
    // ---- domains ----
    /// Add a local domain (stored lowercase). Exists when it is already there.
    fn add_domain(&self, name: &str) -> Result<(), StorageError>;

    /// Delete a domain and its aliases. Conflict while accounts remain in it.
    fn del_domain(&self, name: &str) -> Result<(), StorageError>;

    /// Local domains, sorted.
    fn list_domains(&self) -> Result<Vec<String>, StorageError>;

    /// Whether mail for `name` is delivered here.
    fn is_local_domain(&self, name: &str) -> Result<bool, StorageError>;

    // ---- accounts ----
    /// Create an account in an existing domain, with its default folders (INBOX, Drafts, Sent,
    /// Trash, Junk, Archive), in one transaction.
    fn add_account(
        &self,
        address: &str,
        password: &str,
        admin: bool,
    ) -> Result<Account, StorageError>;

    fn set_password(&self, address: &str, password: &str) -> Result<(), StorageError>;

    /// Grant or withdraw administrator rights (the admin dashboard and API). NotFound if there
    /// is no such account.
    fn set_admin(&self, address: &str, admin: bool) -> Result<(), StorageError>;

    /// Disable or enable an account: a disabled one is refused at every login, answered like
    /// a wrong password, and still receives mail. NotFound if there is no such account.
    fn set_disabled(&self, address: &str, disabled: bool) -> Result<(), StorageError>;

    /// Every account, sorted by address.
    fn list_accounts(&self) -> Result<Vec<Account>, StorageError>;

    fn get_account(&self, address: &str) -> Result<Option<Account>, StorageError>;

    /// The address of the account a login names and a SHA-256 digest of its stored record
    /// (password hash included); `None` when no account has that name. The credential cache
    /// keeps the digest with a verified login and trusts it only while the digest is
    /// unchanged, so any change to the account — a new password, a flag added later such
    /// as a disable switch — or its deletion ends the cached login, whichever path made it.
    fn account_stamp(&self, login: &str) -> Result<Option<(String, [u8; 32])>, StorageError>;

    /// Check a login (the account address, any case). A login naming no account is verified
    /// against a dummy hash so that it takes as long as a wrong password.
    fn verify_password(&self, login: &str, password: &str) -> Result<AuthOutcome, StorageError>;

    // ---- aliases ----
    /// Add `target` to alias `alias`. The alias's domain must be local and the alias must not
    /// be an account; the target is a local account, another alias or a remote address.
    fn add_alias(&self, alias: &str, target: &str) -> Result<(), StorageError>;

    /// Remove one target of an alias, or (with `None`) the whole alias.
    fn del_alias(&self, alias: &str, target: Option<&str>) -> Result<(), StorageError>;

    /// Every alias with its targets, sorted by alias.
    fn list_aliases(&self) -> Result<Vec<(String, Vec<String>)>, StorageError>;

    /// Resolve a recipient to its destinations: domain and local part compared lowercase,
    /// aliases followed recursively (each address once, at most 10 deep), plus-addressing
    /// (`user+tag@dom` reaches `user@dom` unless an account or alias is named exactly
    /// `user+tag@dom`). Deduplicated, in discovery order. Empty for a local domain means "no
    /// such user".
    fn resolve_recipient(&self, address: &str) -> Result<Vec<Destination>, StorageError>;

    /// Classify a recipient for RCPT TO.
    fn check_recipient(&self, address: &str) -> Result<RecipientKind, StorageError>;

    /// Set (or with `None` lift) `account`'s limits: storage in bytes, and messages. Usage may
    /// already be above a new limit; then only further growth is refused.
    fn set_quota(
        &self,
        account: &str,
        storage_bytes: Option<u64>,
        messages: Option<u64>,
    ) -> Result<(), StorageError>;

    /// Repair tool: recount every folder of `account` from its messages, then set the usage to
    /// their sum. Returns the repaired quota.
    fn recompute_quota(&self, account: &str) -> Result<Quota, StorageError>;
}

/// Which addresses an account may send as, and which domains it administers.
pub trait SenderRightsStore: Send + Sync {
    /// The sender rights of `account` (empty when it has none).
    fn sender_rights(&self, account: &str) -> Result<SenderRights, StorageError>;

    /// Every account with sender rights, sorted by account.
    fn list_sender_rights(&self) -> Result<Vec<(String, SenderRights)>, StorageError>;

    /// Lets `account` send as `entry` (`other@dom` or `@dom`). Exists if already allowed.
    fn add_send_as(&self, account: &str, entry: &str) -> Result<(), StorageError>;

    /// Takes `entry` off `account`'s "may send as" list.
    fn del_send_as(&self, account: &str, entry: &str) -> Result<(), StorageError>;

    /// Makes `account` an administrator of the local domain `domain`.
    fn add_domain_admin(&self, account: &str, domain: &str) -> Result<(), StorageError>;

    /// Ends `account`'s administration of `domain`.
    fn del_domain_admin(&self, account: &str, domain: &str) -> Result<(), StorageError>;
}

/// Reads of folders: their state, messages, flags, changes since a modseq, ACLs, quota
/// usage, subscriptions and metadata. Reads never change anything, so any part of the server
/// may hold them.
pub trait Folders: Send + Sync {
    /// The ACL of a folder (GETACL), sorted by identifier. The owner's implicit full rights are
    /// not listed.
    fn get_acl(&self, folder: FolderId) -> Result<Vec<(String, String)>, StorageError>;

    /// MYRIGHTS (RFC 4314 §3.5): every right for the owner, otherwise the union of `user`'s
    /// entry and `anyone`'s.
    fn rights(&self, folder: FolderId, user: &str) -> Result<String, StorageError>;

    /// Folders of other owners (public folders included) that `user` may see: where `user` or
    /// `anyone` has the "l" right. From the index, by owner then name.
    fn folders_visible_to(&self, user: &str) -> Result<Vec<FolderState>, StorageError>;

    /// The id of `account`'s folder `name` ("INBOX" in any case); `account` may be
    /// [`PUBLIC_OWNER`].
    fn folder_id(&self, account: &str, name: &str) -> Result<Option<FolderId>, StorageError>;

    fn folder_state(&self, id: FolderId) -> Result<FolderState, StorageError>;

    /// `account`'s folders (or the public ones for [`PUBLIC_OWNER`]): INBOX first, then by name.
    fn list_folders(&self, account: &str) -> Result<Vec<FolderState>, StorageError>;

    /// The messages of a folder, in UID order (one prefix scan).
    fn list_messages(&self, folder: FolderId) -> Result<Vec<MessageRecord>, StorageError>;

    /// Messages with UID ≥ `first_uid`, in UID order: what arrived since a session last
    /// looked (one range scan, not the whole folder).
    fn messages_from(
        &self,
        folder: FolderId,
        first_uid: u32,
    ) -> Result<Vec<MessageRecord>, StorageError>;

    fn get_message(
        &self,
        folder: FolderId,
        uid: u32,
    ) -> Result<Option<MessageRecord>, StorageError>;

    /// The messages among `uids` that exist, in UID order: what FETCH and SEARCH are about
    /// to read, in one lookup where each lookup is a round trip to a database server.
    fn get_messages(
        &self,
        folder: FolderId,
        uids: &[u32],
    ) -> Result<Vec<MessageRecord>, StorageError> {
        let mut uids = uids.to_vec();
        uids.sort_unstable();
        uids.dedup();
        let mut out = Vec::with_capacity(uids.len());
        for uid in uids {
            out.extend(self.get_message(folder, uid)?);
        }
        Ok(out)
    }

    /// UIDs expunged with a modseq greater than `modseq`, ascending (QRESYNC VANISHED). Exact
    /// only for `modseq >=` [`Folders::vanished_horizon`].
    fn expunged_since(&self, folder: FolderId, modseq: u64) -> Result<Vec<u32>, StorageError>;

    /// STATUS RECENT without claiming: the messages at or above the watermark (a key-only range
    /// scan over just those, so expunged UIDs do not count).
    fn recent_count(&self, folder: FolderId) -> Result<u32, StorageError>;

    /// The number of messages (O(1): the kept `exists` counter).
    fn message_count(&self, folder: FolderId) -> Result<u32, StorageError>;

    /// The UIDs of a folder, ascending (keys only; no record is decoded).
    fn uid_list(&self, folder: FolderId) -> Result<Vec<u32>, StorageError>;

    /// Keywords ever used in the folder, in order of first use (for FLAGS/PERMANENTFLAGS).
    fn folder_keywords(&self, folder: FolderId) -> Result<Vec<String>, StorageError>;

    /// [`Folders::expunged_since`]`(folder, m)` is exact for every `m >=` this value; below it,
    /// older expunges have been forgotten (the folder keeps the last 100,000) and a QRESYNC
    /// client must be answered another way (RFC 7162 §3.2.5.2). 0 while nothing was forgotten.
    fn vanished_horizon(&self, folder: FolderId) -> Result<u64, StorageError>;

    /// Messages whose modseq is above `modseq`, in UID order: what changed (added or flags)
    /// since a reader last looked. With [`Folders::expunged_since`] it tells a node what
    /// another node did to a folder.
    fn changed_since(
        &self,
        folder: FolderId,
        modseq: u64,
    ) -> Result<Vec<MessageRecord>, StorageError>;

    /// The entries `user` sees on `on`: their own `/private` ones and the `/shared` ones, as
    /// (name, value) sorted by name.
    fn metadata(
        &self,
        on: MetadataOwner,
        user: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError>;

    /// `account`'s limits and usage (O(1): the usage is kept, not scanned).
    fn quota(&self, account: &str) -> Result<Quota, StorageError>;

    /// The names on `account`'s list, sorted.
    fn subscriptions(&self, account: &str) -> Result<Vec<String>, StorageError>;
}

/// Mutations of a folder's message state and identity (append, flags, expunge, copy/move,
/// replace, the \Recent watermark, POP3's update, rename, delete): whatever changes its
/// messages, counters, modseq or name. Not part of what [`super::Store`] offers: only a
/// [`super::FolderWriter`], made once when the store is opened and owned by the folder
/// actors' registry, reaches them (one writer per folder, by types).
///
/// Every mutation is atomic: a crash leaves all or none of it. UIDs and modseqs only grow;
/// folder counters, quota usage and blob reference counts change together with the messages
/// they count.
pub trait FolderWrites: Send + Sync {
    /// Delete an account with its folders and messages (their blob references released), its
    /// quota, and its entries in other folders' ACLs. Aliases pointing at it stay (they then
    /// resolve to nothing there). A folder write: it removes folders, so only the folder
    /// registry (the folder actors' owner) holds it.
    fn del_account(&self, address: &str) -> Result<(), StorageError>;

    /// Rename a folder and every folder below it ("a/…" → "b/…"), keeping their UIDVALIDITY,
    /// messages and ACLs, and creating the missing parents of the new name (RFC 9051 §6.3.6).
    /// INBOX cannot be renamed here: see [`FolderWrites::rename_inbox`].
    fn rename_folder(&self, id: FolderId, new_name: &str) -> Result<(), StorageError>;

    /// RENAME INBOX (RFC 9051 §6.3.6): create folder `to` (with missing parents) and move every
    /// INBOX message into it, in one transaction. INBOX stays, empty, with its UIDVALIDITY;
    /// folders below INBOX are not affected. Returns the new folder's id.
    fn rename_inbox(&self, account: &str, to: &str) -> Result<FolderId, StorageError>;

    /// Delete a folder with its messages (releasing their blobs and quota) and its ACL. A
    /// folder with children loses its messages but stays as a `\Noselect` placeholder (RFC 3501
    /// §6.3.4); deleting a placeholder that still has children is Invalid. INBOX cannot be
    /// deleted. A subscription outlives its folder (RFC 3501 §6.3.6): the folder's own
    /// `subscribed` flag moves onto the owner's list in the same transaction.
    fn delete_folder(&self, id: FolderId) -> Result<(), StorageError>;

    /// Append a message in one transaction: it gets uid = UIDNEXT and modseq = the new highest
    /// modseq, and takes a reference on its blob (which must exist). With `consume` =
    /// `(queue, id, recipient index)`, the same transaction marks that recipient delivered
    /// (deleting the queue record when it was the last); if the recipient is missing or
    /// already delivered the whole append aborts with Conflict, and with Gone when the record
    /// is no longer in the queue, so a retried delivery never duplicates.
    /// OverQuota when the owner's quota would be exceeded; Invalid for a `\Noselect` folder.
    fn append_message(
        &self,
        folder: FolderId,
        msg: NewMessage,
        consume: Option<(QueueName, QueueId, usize)>,
    ) -> Result<(u32, u64), StorageError>;

    /// [`FolderWrites::append_message`] consuming recipient `rcpt` of record `seen.id` in
    /// queue `seen.queue`, where `seen` is the record as the caller last saw it. The result
    /// is the same whatever `seen` holds (the stored record decides); a backend may use it
    /// to save a read of the stored record when that is unchanged (PostgreSQL).
    fn append_delivery(
        &self,
        folder: FolderId,
        msg: NewMessage,
        seen: &QueueRecord,
        rcpt: usize,
    ) -> Result<(u32, u64), StorageError> {
        self.append_message(folder, msg, Some((seen.queue, seen.id, rcpt)))
    }

    /// Replace a message's flags. Returns its modseq: a new one if the flags changed, the old one
    /// if they did not (RFC 7162 §3.1.3 leaves an unchanged message's modseq alone).
    fn set_flags(&self, folder: FolderId, uid: u32, flags: Flags) -> Result<u64, StorageError>;

    /// Remove the listed messages (absent UIDs are ignored), releasing their blobs and quota,
    /// and remembering each UID with the expunge's modseq. Returns the folder's highest modseq
    /// (unchanged when nothing was removed).
    fn expunge(&self, folder: FolderId, uids: &[u32]) -> Result<u64, StorageError>;

    /// STORE on many messages in one transaction. Messages whose flags actually change get the
    /// operation's one new modseq; with `unchanged_since`, messages whose modseq is above it
    /// are left alone and reported in `modified`. Missing UIDs are ignored.
    fn store_flags(
        &self,
        folder: FolderId,
        uids: &[u32],
        mode: FlagMode,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<StoreResult, StorageError>;

    /// POP3's UPDATE state (RFC 1939 §6): `\Seen` on the retrieved messages and the expunge
    /// of the deleted ones, in ONE transaction, so that a failure leaves the maildrop as it
    /// was instead of flagged but not expunged. `between` runs inside the transaction after
    /// the flags and before the expunge; an error from it aborts both (fault injection).
    /// Returns the flag changes and the modseq of the expunge.
    fn update_maildrop(
        &self,
        folder: FolderId,
        seen: &[u32],
        deleted: &[u32],
        between: &dyn Fn() -> Result<(), StorageError>,
    ) -> Result<(StoreResult, u64), StorageError>;

    /// MULTIAPPEND (RFC 3502): append every message in one transaction, all or none. Returns
    /// their UIDs in order and the folder's new highest modseq.
    fn append_messages(
        &self,
        folder: FolderId,
        msgs: &[NewMessage],
    ) -> Result<(Vec<u32>, u64), StorageError>;

    /// COPY (with UIDPLUS COPYUID): copy the listed messages of `from` to `to` in one
    /// transaction, keeping flags and internal date and adding a blob reference each. Returns
    /// (source uid, new uid) in the order given; missing UIDs are skipped. OverQuota if the
    /// owner of `to` would pass a limit; Invalid if `to` is `\Noselect`.
    fn copy_messages(
        &self,
        from: FolderId,
        uids: &[u32],
        to: FolderId,
    ) -> Result<Vec<(u32, u32)>, StorageError>;

    /// MOVE (RFC 6851): copy and expunge from `from` in ONE transaction, so a failure (quota,
    /// `\Noselect` target, missing folder) leaves both folders as they were. Returns the uid
    /// pairs as [`FolderWrites::copy_messages`] and the modseq of the expunge in `from` (its highest
    /// modseq, unchanged if nothing moved).
    fn move_messages(
        &self,
        from: FolderId,
        uids: &[u32],
        to: FolderId,
    ) -> Result<(Vec<(u32, u32)>, u64), StorageError>;

    /// REPLACE (RFC 8508): expunge message `uid` of `from` and append `msg` to `to` in ONE
    /// transaction, the expunge first so that quota counts only the net change (§3.4).
    /// NotFound if `uid` is not in `from` (nothing changes). Returns the new UID, the
    /// modseq of the expunge in `from` and the highest modseq of `to`.
    fn replace_message(
        &self,
        from: FolderId,
        uid: u32,
        to: FolderId,
        msg: &NewMessage,
    ) -> Result<(u32, u64, u64), StorageError>;

    /// Claim the folder's \Recent messages (RFC 3501 §2.3.2): returns the first recent UID and
    /// moves the watermark to UIDNEXT, atomically, so only one session sees each message as
    /// recent. Messages with uid >= the returned value are \Recent for the claiming session.
    fn claim_recent(&self, folder: FolderId) -> Result<u32, StorageError>;
}

/// Writes to the folder catalog that hold no per-folder message state: creating a folder,
/// its ACL, subscriptions, METADATA entries and URLAUTH keys. Each is one atomic write that
/// no folder actor caches or orders against its messages, so any holder of a
/// [`super::Store`] may make them (see `docs/architecture.md`, "One writer per folder").
pub trait CatalogWrites: Send + Sync {
    /// SETACL (RFC 4314 §3.1): give `identifier` exactly `rights`, or add ("+rights") or
    /// remove ("-rights") some. Rights are normalised (see [`normalize_rights`]); an entry left
    /// with no rights is removed.
    fn set_acl(&self, folder: FolderId, identifier: &str, rights: &str)
        -> Result<(), StorageError>;

    /// DELETEACL (RFC 4314 §3.2): remove `identifier`'s entry (absent: nothing to do).
    fn delete_acl(&self, folder: FolderId, identifier: &str) -> Result<(), StorageError>;

    /// Create a folder, and its missing parents ("a/b/c" also creates "a" and "a/b", RFC 9051
    /// §6.3.4). `account` must exist, or be [`PUBLIC_OWNER`] for a public folder. Each new
    /// folder starts with a fresh UIDVALIDITY, UIDNEXT 1, modseq 1, subscribed, and a copy of
    /// its parent's ACL. The name must be new (INBOX compares case-insensitively), except that
    /// a `\Noselect` placeholder of that name becomes a normal folder again.
    fn create_folder(
        &self,
        account: &str,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<FolderId, StorageError>;

    /// Subscribe or unsubscribe (IMAP SUBSCRIBE/UNSUBSCRIBE).
    fn set_subscribed(&self, id: FolderId, subscribed: bool) -> Result<(), StorageError>;

    /// Sets (`Some`) or removes (`None`) entries of `user` on `on`, all or none. Names must be
    /// `/private/…` or `/shared/…`; they are stored lower-case. A folder that is gone is
    /// NotFound. The caller makes it durable ([`Durability::commit`]) before acknowledging.
    fn set_metadata(
        &self,
        on: MetadataOwner,
        user: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> Result<(), StorageError>;

    fn subscribe(&self, account: &str, name: &str) -> Result<(), StorageError>;

    /// Removes a name; returns whether it was on the list.
    fn unsubscribe(&self, account: &str, name: &str) -> Result<bool, StorageError>;

    /// `user`'s access key for `folder`; with `create`, one is made when there is none (a
    /// folder that is gone is then NotFound).
    fn urlauth_key(
        &self,
        folder: FolderId,
        user: &str,
        create: bool,
    ) -> Result<Option<Vec<u8>>, StorageError>;

    /// Forgets `user`'s access key for `folder` (RESETKEY); the next GENURLAUTH makes a new
    /// one. A folder that is gone is NotFound.
    fn reset_urlauth_key(&self, folder: FolderId, user: &str) -> Result<(), StorageError>;
}

/// Reads of the six queues (inbound, local, remote, deferred, to-archive, bad).
pub trait Queue: Send + Sync {
    /// A new queue id: unique and increasing, across restarts too. Handing one out writes
    /// no record (a session numbers its record before it asks a queue actor to store it).
    fn next_queue_id(&self) -> Result<QueueId, StorageError>;

    fn queue_get(&self, queue: QueueName, id: QueueId)
        -> Result<Option<QueueRecord>, StorageError>;

    /// Look for `id` in every queue.
    fn queue_find(&self, id: QueueId) -> Result<Option<QueueRecord>, StorageError>;

    /// Every record of `queue`, in id order.
    fn queue_list(&self, queue: QueueName) -> Result<Vec<QueueRecord>, StorageError>;

    /// At most `limit` records of `queue` after skipping `offset`, in id order: one page of
    /// [`Queue::queue_list`] that decodes only the records it returns (a dashboard page of a
    /// queue of 100,000 records must not read them all).
    fn queue_page(
        &self,
        queue: QueueName,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<QueueRecord>, StorageError>;

    /// The records of `queue` that `keep` accepts, in id order: how many there are, and at
    /// most `limit` of them from the `offset`-th on. `keep` sees each record's head
    /// ([`super::QueueHead`], read without decoding the rest); only the returned records are
    /// decoded whole, so a domain admin's or a filtered page of a large queue costs a scan
    /// of the heads, not a decoding of every record.
    fn queue_select(
        &self,
        queue: QueueName,
        keep: super::Keep<'_>,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<QueueRecord>), StorageError>;

    /// The number of records in `queue`, from the in-memory counters (no scan; see
    /// `queue_counts`).
    fn queue_depth(&self, queue: QueueName) -> Result<usize, StorageError>;
}

/// Mutations of queue records. Not part of what [`super::Store`] offers: only a
/// [`super::QueueWriter`], made once when the store is opened and owned by the queue actors,
/// reaches them. Queue ids only grow; a record's blob reference is
/// counted while the record exists.
pub trait QueueWrites: Send + Sync {
    /// Insert (or overwrite) `rec` in `rec.queue`. A new record takes a reference on its blob,
    /// which must exist.
    fn queue_put(&self, rec: &QueueRecord) -> Result<(), StorageError>;

    /// Atomically remove `id` from `from` and insert each of `new_records` into its own queue
    /// (they may reuse ids and blobs; reference counts follow). Conflict if `id` is not in
    /// `from`.
    fn queue_replace(
        &self,
        from: QueueName,
        id: QueueId,
        new_records: &[QueueRecord],
    ) -> Result<(), StorageError>;

    /// Move record `id` unchanged from `from` to `to`. Conflict if it is not in `from`.
    fn queue_move(&self, id: QueueId, from: QueueName, to: QueueName) -> Result<(), StorageError>;

    /// Delete record `id` from `queue`, releasing its blob. NotFound if it is not there.
    fn queue_delete(&self, queue: QueueName, id: QueueId) -> Result<(), StorageError>;

    /// Takes in one fetched message, exactly once (see the module notes): in one
    /// transaction, unless `mark` is already seen, drops the recipients that duplicate
    /// suppression finds delivered within the window, writes the remaining records, their
    /// dedup marks and the seen mark. Not durable until the next commit.
    fn fetch_accept(&self, msg: &FetchedMessage) -> Result<Accepted, StorageError>;
}

/// Message bodies: the shared file store and the backend's reference counts on it.
pub trait BlobRefs: Send + Sync {
    /// The message body store (backend-neutral files; see [`BlobStore`]).
    fn blobs(&self) -> &BlobStore;

    /// Where the blob files live.
    fn blob_root(&self) -> PathBuf;

    /// Delete the files of `zeroed` blobs after the next commit round that flushes the
    /// index, if their count is still 0 then (bodies of a failed append that nothing refers
    /// to). Deleting at once would let a crash bring back a record without its body.
    fn collect_after_commit(&self, zeroed: &[BlobId]);
    /// The number of records holding `blob`.
    fn blob_refcount(&self, blob: &BlobId) -> Result<u64, StorageError>;
}

/// Durable before acknowledged (docs/architecture.md §4): group commits, record writes
/// ordered after their bodies' sync, and the start-up repair sweep.
pub trait Durability: Send + Sync {
    /// The data directory the store was opened on.
    fn root(&self) -> &Path;

    /// Make everything written so far durable (blob files synced, records flushed). Blocks
    /// until a commit round that started after this call has finished.
    fn commit(&self) -> Result<(), StorageError>;

    /// [`Durability::commit`] for async callers: the request is queued at once; the future
    /// resolves when a round covering it has finished.
    fn commit_async(&self) -> CommitFuture;

    /// Runs `write` (a record write) once every body file written before this call is
    /// durable, then makes the records durable; resolves after that. Bodies written with
    /// [`BlobStore::write_pinned`] (not yet durable) are referenced this way, so that the
    /// record can never reach the disk before its body, in one commit round. `write`
    /// reports its own outcome (e.g. through a channel); it is dropped without running when
    /// the sync fails, and the future then gives the error. [`super::Store::write_after_sync`]
    /// takes any closure.
    fn write_after_sync(&self, write: AfterSync) -> CommitFuture;

    /// Counters of the group committer.
    fn commit_stats(&self) -> CommitStats;

    /// Makes the sync step of the next `rounds` commit rounds fail with EIO, as a failing
    /// disk would: their waiters (body writers, commits) get the error.
    #[cfg(any(test, feature = "fault-injection"))]
    fn inject_sync_errors(&self, rounds: u32);
    /// Runs the start-up sweep (see the module notes) and commits its changes. Orphan files
    /// younger than `grace` are kept.
    fn sweep(&self, grace: Duration) -> Result<SweepReport, StorageError>;
}

/// DKIM signing keys: several selectors per domain, one active. Private keys are files of
/// the data directory in the embedded backend, and columns of the keys' rows in PostgreSQL
/// (so that every node signs).
pub trait DkimStore: Send + Sync {
    /// Stores a new key: `private_pem` goes to its 0600 file (embedded) or the key's row
    /// (PostgreSQL), the rest to the backend. The domain must be a local domain and the
    /// selector new for it. The first key of a domain becomes active. Returns the key as
    /// stored.
    fn dkim_add(
        &self,
        domain: &str,
        selector: &str,
        algorithm: DkimAlgorithm,
        public_key: &str,
        private_pem: &[u8],
        created: i64,
    ) -> Result<DkimKey, StorageError>;

    /// The keys of `domain`, by selector.
    fn dkim_list(&self, domain: &str) -> Result<Vec<DkimKey>, StorageError>;

    /// The key that signs for `domain` now, if any.
    fn dkim_active(&self, domain: &str) -> Result<Option<DkimKey>, StorageError>;

    /// Makes `selector` the active key of `domain` (and no other), in one transaction.
    fn dkim_activate(&self, domain: &str, selector: &str) -> Result<DkimKey, StorageError>;

    /// Deletes a key: its record, then its private key file. The active key only goes when it
    /// is the domain's last (signing for the domain then stops).
    fn dkim_delete(&self, domain: &str, selector: &str) -> Result<(), StorageError>;

    /// The PEM private key of `key`.
    fn dkim_private_key(&self, key: &DkimKey) -> Result<Vec<u8>, StorageError>;
}

/// Fetch sources (MultiPOP/DomainPOP), their status, seen marks and de-duplication, and the
/// sealing of their passwords.
pub trait FetchStore: Send + Sync {
    /// Seals a secret with the store's key, made on first use: the data directory's
    /// `secret.key` (embedded), or one in the database that every node shares (PostgreSQL).
    fn seal_secret(&self, plaintext: &str) -> Result<Vec<u8>, StorageError>;

    fn open_secret(&self, sealed: &[u8]) -> Result<String, StorageError>;

    /// A key for `purpose` derived from that same stored key (`SecretKey::derive`): equal
    /// on every node and across restarts, e.g. for the web session cookies. Read-only
    /// apart from making the stored key on first use.
    fn derived_key(&self, purpose: &str) -> Result<[u8; 32], StorageError>;

    /// Adds a source; its `id` is chosen here (the smallest unused above every other).
    fn fetch_add_source(&self, source: FetchSource) -> Result<FetchSource, StorageError>;

    /// Sets `domain`'s DomainPOP source, keeping the id (and so what was fetched already)
    /// of the one it replaces.
    fn fetch_set_domainpop(&self, source: FetchSource) -> Result<FetchSource, StorageError>;

    /// Replaces source `source.id` (a changed password, say), keeping its id and what was
    /// fetched from it already. NotFound if there is none.
    fn fetch_update_source(&self, source: FetchSource) -> Result<FetchSource, StorageError>;

    fn fetch_source(&self, id: SourceId) -> Result<Option<FetchSource>, StorageError>;

    /// Every source, in id order.
    fn fetch_sources(&self) -> Result<Vec<FetchSource>, StorageError>;

    fn fetch_domainpop(&self, domain: &str) -> Result<Option<FetchSource>, StorageError>;

    /// Deletes a source with everything remembered about it. NotFound if there is none.
    fn fetch_del_source(&self, id: SourceId) -> Result<FetchSource, StorageError>;

    fn fetch_status(&self, id: SourceId) -> Result<FetchStatus, StorageError>;

    fn fetch_set_status(&self, id: SourceId, status: &FetchStatus) -> Result<(), StorageError>;

    /// The marks of everything taken in from `source` that is still remembered.
    fn fetch_seen(&self, source: SourceId) -> Result<HashSet<String>, StorageError>;

    /// Forgets the marks of messages that are no longer on the server (`on_server` is the
    /// server's whole list): they cannot come back, and the list stays as long as the
    /// mailbox. Returns how many were forgotten.
    fn fetch_forget_gone(
        &self,
        source: SourceId,
        on_server: &HashSet<String>,
    ) -> Result<usize, StorageError>;

    /// Forgets duplicate-suppression marks older than `window` seconds.
    fn fetch_expire_dedup(
        &self,
        source: SourceId,
        window: u64,
        now: i64,
    ) -> Result<usize, StorageError>;

    /// Whether `mark` of `source` has been taken in (and not forgotten).
    fn fetch_is_seen(&self, source: SourceId, mark: &str) -> Result<bool, StorageError>;
}

/// The MTA-STS policy cache and the TLSRPT daily counters: a cache and statistics, one key
/// per write, outside the atomic set.
pub trait TlsPolicyStore: Send + Sync {
    /// The cached MTA-STS policy of `domain` (lowercase), expired or not.
    fn mta_sts_get(&self, domain: &str) -> Result<Option<CachedStsPolicy>, StorageError>;

    fn mta_sts_put(&self, domain: &str, p: &CachedStsPolicy) -> Result<(), StorageError>;

    /// Counts `r` for `domain` on `day` (days since 1970).
    fn tlsrpt_add(&self, day: u32, domain: &str, r: &TlsResult) -> Result<(), StorageError>;

    /// Every recorded day: (day, policy domain, counts), oldest first.
    fn tlsrpt_list(&self) -> Result<Vec<(u32, String, Vec<TlsPolicyCounts>)>, StorageError>;

    /// Forgets the counts of `domain` on `day` (after its report went out).
    fn tlsrpt_remove(&self, day: u32, domain: &str) -> Result<(), StorageError>;
}

/// Dynamic screening: address and account bans, allow/deny rules.
pub trait Screening: Send + Sync {
    /// Reads everything back. A record that does not decode is skipped with a warning (it
    /// is only a count), and so is a key that names no address.
    fn screen_load(&self) -> Result<ScreenSnapshot, StorageError>;

    /// Stores an address's record; `None` (nothing left to remember) deletes it.
    fn screen_put_address(
        &self,
        ip: IpAddr,
        rec: Option<&ScreenRecord>,
    ) -> Result<(), StorageError>;

    /// Stores an account's failure times; `None` deletes them.
    fn screen_put_account(
        &self,
        account: &str,
        times: Option<&Vec<i64>>,
    ) -> Result<(), StorageError>;

    /// Adds (`present`) or removes a network of a rule list.
    fn screen_put_rule(
        &self,
        rule: ScreenRule,
        network: &str,
        present: bool,
    ) -> Result<(), StorageError>;
}

/// The web front's second factors and API keys (see `storage::webauth`). Deleting an
/// account deletes its TOTP state and the API keys it owns, in the same transaction.
pub trait WebAuth: Send + Sync {
    /// `account`'s TOTP state, pending or enabled.
    fn totp_get(&self, account: &str) -> Result<Option<TotpState>, StorageError>;

    /// Stores (replacing) `account`'s TOTP state. NotFound when there is no such account.
    fn totp_put(&self, account: &str, state: &TotpState) -> Result<(), StorageError>;

    /// Forgets `account`'s TOTP state; whether there was one.
    fn totp_delete(&self, account: &str) -> Result<bool, StorageError>;

    /// Replay refusal, atomically: when `account`'s TOTP is enabled and `step` is later than
    /// the last step accepted, records `step` and answers true; otherwise changes nothing
    /// and answers false. Two logins racing with one code cannot both win.
    fn totp_claim_step(&self, account: &str, step: u64) -> Result<bool, StorageError>;

    /// Uses up a recovery code, atomically: removes `digest` from `account`'s unused codes
    /// and answers true, or false when it is not among them (or TOTP is not enabled).
    fn totp_use_recovery(&self, account: &str, digest: &[u8]) -> Result<bool, StorageError>;

    /// Every account's TOTP state, by account (for copies between backends).
    fn totp_list(&self) -> Result<Vec<(String, TotpState)>, StorageError>;

    /// Stores a new key. Exists when its id is taken; NotFound when its owner is no account.
    fn apikey_add(&self, key: &ApiKeyRecord) -> Result<(), StorageError>;

    fn apikey_get(&self, id: &str) -> Result<Option<ApiKeyRecord>, StorageError>;

    /// Every key, by id.
    fn apikey_list(&self) -> Result<Vec<ApiKeyRecord>, StorageError>;

    /// Deletes a key. NotFound when there is none.
    fn apikey_delete(&self, id: &str) -> Result<(), StorageError>;

    /// Records a use of key `id` at `at` (unix seconds); a key deleted meanwhile is left
    /// deleted.
    fn apikey_touch(&self, id: &str, at: u64) -> Result<(), StorageError>;
}

/// A change another node made, heard by this one (see [`Cluster::watch`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterEvent {
    /// Folder `folder` changed; its highest modseq is now `modseq` (0: the folder was deleted
    /// or renamed).
    Folder { folder: FolderId, modseq: u64 },
    /// Settings changed (accounts, domains, aliases, DKIM keys, screening): `what` names them
    /// ("directory", "dkim", "screening", ...).
    Settings { what: String },
    /// Notifications may have been lost (the listening connection broke and was made
    /// again): look at everything watched.
    Resync,
}

/// A node of the cluster, from its heartbeat row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub name: String,
    /// Unix seconds.
    pub started: i64,
    /// Unix seconds of the last heartbeat.
    pub seen: i64,
    pub version: String,
    /// Queue records leased to it.
    pub leases: u64,
}

/// A queue record's lease: which node works on it, until when (Unix seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub queue: QueueName,
    pub id: QueueId,
    pub owner: String,
    pub until: i64,
}

/// Several nodes on one database. The embedded backend is always a cluster of one: it has
/// no other node to hear from, and every queue record is its own.
pub trait Cluster: Send + Sync {
    /// This node's name (the embedded backend: "").
    fn node_name(&self) -> String;

    /// Renews this node's heartbeat row and the leases of the queue records it holds.
    fn heartbeat(&self) -> Result<(), StorageError>;

    /// At start: the records of `queue` this node may work on, leasing them to it — those
    /// leased to this node (by its previous run), never leased, or whose lease expired. The
    /// embedded backend: every record.
    fn queue_claim_startup(&self, queue: QueueName) -> Result<Vec<QueueRecord>, StorageError>;

    /// While running: up to `max` records of `queue` whose lease expired (their node died),
    /// leased to this node now. The embedded backend: none.
    fn queue_claim_orphans(
        &self,
        queue: QueueName,
        max: usize,
    ) -> Result<Vec<QueueRecord>, StorageError>;

    /// Every node that has run, by name.
    fn cluster_nodes(&self) -> Result<Vec<NodeInfo>, StorageError>;

    /// Every lease held, by queue and id.
    fn queue_leases(&self) -> Result<Vec<Lease>, StorageError>;

    /// Calls `on_event` (on a thread of the backend's) for each change another node makes,
    /// until the store is dropped. The embedded backend never calls it.
    fn watch(&self, on_event: Box<dyn Fn(ClusterEvent) + Send + Sync>) -> Result<(), StorageError>;

    /// How often a watcher should also look for changes by itself (notifications can be
    /// lost, and some databases have none); `None` for the embedded backend.
    fn poll_interval(&self) -> Option<std::time::Duration>;
}

/// What every holder of a [`super::Store`] may call: all reads, and the writes that no actor
/// needs to order (directory, catalog, blobs, durability and the smaller stores).
pub trait Shared:
    Directory
    + SenderRightsStore
    + Folders
    + CatalogWrites
    + Queue
    + BlobRefs
    + Durability
    + DkimStore
    + FetchStore
    + TlsPolicyStore
    + Screening
    + WebAuth
    + super::snooze::SnoozeStore
    + DeviceStore
    + DavFileStore
    + Cluster
    + super::davstore::DavStore
    + super::queue_index::QueueIndex
{
}

impl<T> Shared for T where
    T: Directory
        + SenderRightsStore
        + Folders
        + CatalogWrites
        + Queue
        + BlobRefs
        + Durability
        + DkimStore
        + FetchStore
        + TlsPolicyStore
        + Screening
        + WebAuth
        + super::snooze::SnoozeStore
        + DeviceStore
        + DavFileStore
        + Cluster
        + super::davstore::DavStore
        + super::queue_index::QueueIndex
{
}

/// Every storage trait: what a backend implements. [`super::Store`] offers its [`Shared`]
/// part; the folder and queue writes go to [`super::FolderWriter`] and
/// [`super::QueueWriter`]. The three views are methods (not trait upcasting) so that any
/// backend type gets them from the blanket impl.
pub trait Backend: Shared + FolderWrites + QueueWrites {
    /// This backend as [`Shared`].
    fn shared(&self) -> &(dyn Shared + 'static);

    /// This backend's folder writes.
    fn folder_writes(&self) -> &(dyn FolderWrites + 'static);

    /// This backend's queue writes.
    fn queue_writes(&self) -> &(dyn QueueWrites + 'static);
}

impl<T> Backend for T
where
    T: Shared + FolderWrites + QueueWrites + 'static,
{
    fn shared(&self) -> &(dyn Shared + 'static) {
        self
    }

    fn folder_writes(&self) -> &(dyn FolderWrites + 'static) {
        self
    }

    fn queue_writes(&self) -> &(dyn QueueWrites + 'static) {
        self
    }
}
