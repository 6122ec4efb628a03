//! Mail folders: MDaemon's IMAP.MRK state in sled.
//!
//! Per folder (`v1/folders`): UIDVALIDITY, UIDNEXT, the highest modseq (the change counter used
//! by IDLE, CONDSTORE/QRESYNC, EAS SyncKey and DAV sync tokens), the message count and the
//! subscription. Per message (`v1/messages`, keyed folder ++ uid): flags, size, internal date,
//! body blob and the modseq of its last change. Expunged UIDs stay in `v1/expunged` with the
//! modseq of their expunge, so QRESYNC can report VANISHED.
//!
//! Invariants: a UID is handed out once per UIDVALIDITY (uidnext only grows); every change bumps
//! `highest_modseq` by one and stamps the changed message with the new value; `exists` equals
//! the number of message records.

use serde::{Deserialize, Serialize};

use super::blobs::{BlobId, RefDelta};
use super::directory::normalize_address;
use super::keys::{self, message_key, tx_get, tx_put, TreeIx, UIDVALIDITY_KEY};
use super::queue::{tx_consume, QueueId, QueueName};
use super::{abort, now_secs, StorageError, Store, Tx, TxResult};

pub type FolderId = u64;

/// Message flags: the RFC 9051 system flags as bits, plus keywords.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flags {
    /// Bits: [`Flags::SEEN`] [`Flags::ANSWERED`] [`Flags::FLAGGED`] [`Flags::DELETED`]
    /// [`Flags::DRAFT`].
    pub system: u8,
    pub keywords: Vec<String>,
}

impl Flags {
    pub const SEEN: u8 = 1;
    pub const ANSWERED: u8 = 2;
    pub const FLAGGED: u8 = 4;
    pub const DELETED: u8 = 8;
    pub const DRAFT: u8 = 16;
    /// Every defined system bit.
    pub const ALL_SYSTEM: u8 = 31;

    /// Flags with the given system bits and no keywords.
    pub fn system(bits: u8) -> Flags {
        Flags {
            system: bits,
            keywords: Vec::new(),
        }
    }

    pub fn has(&self, bit: u8) -> bool {
        self.system & bit == bit
    }

    pub fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.system |= bit;
        } else {
            self.system &= !bit;
        }
    }

    /// Keywords compare case-insensitively (RFC 9051 §2.3.2).
    pub fn has_keyword(&self, keyword: &str) -> bool {
        self.keywords
            .iter()
            .any(|k| k.eq_ignore_ascii_case(keyword))
    }

    pub fn add_keyword(&mut self, keyword: &str) {
        if !self.has_keyword(keyword) {
            self.keywords.push(keyword.to_string());
        }
    }

    pub fn remove_keyword(&mut self, keyword: &str) {
        self.keywords.retain(|k| !k.eq_ignore_ascii_case(keyword));
    }

    /// The flag names as IMAP prints them (`\Seen`, …, then keywords).
    pub fn names(&self) -> Vec<String> {
        const NAMES: [(u8, &str); 5] = [
            (Flags::SEEN, "\\Seen"),
            (Flags::ANSWERED, "\\Answered"),
            (Flags::FLAGGED, "\\Flagged"),
            (Flags::DELETED, "\\Deleted"),
            (Flags::DRAFT, "\\Draft"),
        ];
        NAMES
            .iter()
            .filter(|(bit, _)| self.has(*bit))
            .map(|(_, name)| name.to_string())
            .chain(self.keywords.iter().cloned())
            .collect()
    }

    /// Checked and with duplicate keywords removed.
    fn normalized(&self) -> Result<Flags, StorageError> {
        if self.system & !Flags::ALL_SYSTEM != 0 {
            return Err(StorageError::Invalid(format!(
                "unknown system flag bits {:#x}",
                self.system & !Flags::ALL_SYSTEM
            )));
        }
        let mut out = Flags::system(self.system);
        for k in &self.keywords {
            if k.is_empty() || k.starts_with('\\') || k.chars().any(|c| c.is_control() || c == ' ')
            {
                return Err(StorageError::Invalid(format!("invalid keyword {k:?}")));
            }
            out.add_keyword(k);
        }
        Ok(out)
    }
}

/// A folder's state, as IMAP SELECT reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderState {
    pub id: FolderId,
    pub account: String,
    pub name: String,
    pub special_use: Option<String>,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highest_modseq: u64,
    pub exists: u32,
    pub subscribed: bool,
}

/// One message of a folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub uid: u32,
    pub flags: Flags,
    pub size: u64,
    pub internal_date: i64,
    pub blob: BlobId,
    pub modseq: u64,
}

/// A message to append; the folder assigns uid and modseq.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub blob: BlobId,
    pub size: u64,
    pub flags: Flags,
    pub internal_date: i64,
}

/// Stored value of `v1/folders`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct FolderRecord {
    account: String,
    name: String,
    special_use: Option<String>,
    uidvalidity: u32,
    uidnext: u32,
    highest_modseq: u64,
    exists: u32,
    subscribed: bool,
}

impl FolderRecord {
    fn state(self, id: FolderId) -> FolderState {
        FolderState {
            id,
            account: self.account,
            name: self.name,
            special_use: self.special_use,
            uidvalidity: self.uidvalidity,
            uidnext: self.uidnext,
            highest_modseq: self.highest_modseq,
            exists: self.exists,
            subscribed: self.subscribed,
        }
    }
}

/// Stored value of `v1/messages`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct MessageValue {
    flags: Flags,
    size: u64,
    internal_date: i64,
    blob: BlobId,
    modseq: u64,
}

impl MessageValue {
    fn record(self, uid: u32) -> MessageRecord {
        MessageRecord {
            uid,
            flags: self.flags,
            size: self.size,
            internal_date: self.internal_date,
            blob: self.blob,
            modseq: self.modseq,
        }
    }
}

/// The folders every new account gets, with their RFC 6154 special use.
pub(crate) const DEFAULT_FOLDERS: [(&str, Option<&str>); 6] = [
    ("INBOX", None),
    ("Drafts", Some("\\Drafts")),
    ("Sent", Some("\\Sent")),
    ("Trash", Some("\\Trash")),
    ("Junk", Some("\\Junk")),
    ("Archive", Some("\\Archive")),
];

/// Folder names are case-sensitive except INBOX (RFC 9051 §5.1).
fn canonical_name(name: &str) -> Result<String, StorageError> {
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(StorageError::Invalid(format!(
            "invalid folder name {name:?}"
        )));
    }
    if name.eq_ignore_ascii_case("INBOX") {
        Ok("INBOX".into())
    } else {
        Ok(name.to_string())
    }
}

fn check_special_use(special_use: Option<&str>) -> Result<(), StorageError> {
    match special_use {
        Some(s)
            if !(s.len() > 1
                && s.starts_with('\\')
                && s[1..].chars().all(|c| c.is_ascii_alphanumeric())) =>
        {
            Err(StorageError::Invalid(format!(
                "invalid special-use attribute {s:?} (expected e.g. \\Sent)"
            )))
        }
        _ => Ok(()),
    }
}

fn folder_not_found(id: FolderId) -> StorageError {
    StorageError::NotFound(format!("folder {id}"))
}

/// The marker of a folder that changed between its scan and the deleting transaction.
const CHANGED_DURING_DELETE: &str = "folder changed while being deleted";

/// What deleting a folder must remove, scanned before the transaction (which cannot scan).
pub(crate) struct FolderSnapshot {
    id: FolderId,
    uidnext: u32,
    highest_modseq: u64,
    messages: Vec<u32>,
    expunged: Vec<u32>,
}

fn tx_folder(tx: &Tx, id: FolderId) -> TxResult<FolderRecord> {
    match tx_get::<FolderRecord>(tx.tree(TreeIx::Folders), &id.to_be_bytes(), "folder")? {
        Some(f) => Ok(f),
        None => abort(folder_not_found(id)),
    }
}

fn tx_put_folder(tx: &Tx, id: FolderId, rec: &FolderRecord) -> TxResult<()> {
    tx_put(tx.tree(TreeIx::Folders), &id.to_be_bytes(), rec)
}

/// A fresh UIDVALIDITY: seeded by the clock, strictly greater than any handed out before.
fn tx_next_uidvalidity(tx: &Tx) -> TxResult<u32> {
    let meta = tx.tree(TreeIx::Meta);
    let last = match meta.get(UIDVALIDITY_KEY)? {
        None => 0,
        Some(v) => match keys::decode_u32(&v, "uidvalidity counter") {
            Ok(n) => n,
            Err(e) => return abort(e),
        },
    };
    let now = u32::try_from(now_secs()).unwrap_or(u32::MAX);
    let next = last.checked_add(1).unwrap_or(1).max(now).max(1);
    meta.insert(UIDVALIDITY_KEY, &next.to_be_bytes())?;
    Ok(next)
}

/// Create folder `name` for `account` (both already canonical) inside a transaction.
pub(crate) fn tx_create_folder(
    tx: &Tx,
    account: &str,
    name: &str,
    special_use: Option<&str>,
) -> TxResult<FolderId> {
    let names = tx.tree(TreeIx::FolderNames);
    let name_key = keys::folder_name_key(account, name);
    if names.get(&name_key)?.is_some() {
        return abort(StorageError::Exists(format!("folder {name} of {account}")));
    }
    let id = tx.tree(TreeIx::Folders).generate_id()? + 1;
    let rec = FolderRecord {
        account: account.to_string(),
        name: name.to_string(),
        special_use: special_use.map(str::to_string),
        uidvalidity: tx_next_uidvalidity(tx)?,
        uidnext: 1,
        highest_modseq: 1,
        exists: 0,
        subscribed: true,
    };
    tx_put_folder(tx, id, &rec)?;
    names.insert(name_key, &id.to_be_bytes())?;
    Ok(id)
}

/// Remove a scanned folder with its messages and expunge history inside a transaction.
/// Aborts with [`CHANGED_DURING_DELETE`] if the folder changed since the scan.
pub(crate) fn tx_drop_folder(tx: &Tx, refs: &mut RefDelta, snap: &FolderSnapshot) -> TxResult<()> {
    let rec = tx_folder(tx, snap.id)?;
    if rec.uidnext != snap.uidnext || rec.highest_modseq != snap.highest_modseq {
        return abort(StorageError::Conflict(CHANGED_DURING_DELETE.into()));
    }
    let messages = tx.tree(TreeIx::Messages);
    for uid in &snap.messages {
        let key = message_key(snap.id, *uid);
        if let Some(m) = tx_get::<MessageValue>(messages, &key, "message")? {
            refs.release(m.blob);
            messages.remove(&key)?;
        }
    }
    for uid in &snap.expunged {
        tx.tree(TreeIx::Expunged)
            .remove(&message_key(snap.id, *uid))?;
    }
    tx.tree(TreeIx::FolderNames)
        .remove(keys::folder_name_key(&rec.account, &rec.name))?;
    tx.tree(TreeIx::Folders).remove(&snap.id.to_be_bytes())?;
    Ok(())
}

impl Store {
    /// Create a folder. The account must exist; the name must be new for it (INBOX compares
    /// case-insensitively). The folder starts with a fresh UIDVALIDITY, UIDNEXT 1, modseq 1,
    /// subscribed.
    pub fn create_folder(
        &self,
        account: &str,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<FolderId, StorageError> {
        let account = normalize_address(account)?;
        let name = canonical_name(name)?;
        check_special_use(special_use)?;
        let _admin = self.admin_lock();
        self.transact(|tx| {
            if tx.tree(TreeIx::Accounts).get(account.as_bytes())?.is_none() {
                return abort(StorageError::NotFound(format!("account {account}")));
            }
            tx_create_folder(tx, &account, &name, special_use)
        })
    }

    /// The id of `account`'s folder `name` ("INBOX" in any case).
    pub fn folder_id(&self, account: &str, name: &str) -> Result<Option<FolderId>, StorageError> {
        let account = normalize_address(account)?;
        let name = canonical_name(name)?;
        match self
            .tree(TreeIx::FolderNames)
            .get(keys::folder_name_key(&account, &name))?
        {
            None => Ok(None),
            Some(v) => keys::decode_u64(&v, "folder id").map(Some),
        }
    }

    pub fn folder_state(&self, id: FolderId) -> Result<FolderState, StorageError> {
        match keys::get::<FolderRecord>(self.tree(TreeIx::Folders), &id.to_be_bytes(), "folder")? {
            Some(rec) => Ok(rec.state(id)),
            None => Err(folder_not_found(id)),
        }
    }

    /// `account`'s folders: INBOX first, then by name.
    pub fn list_folders(&self, account: &str) -> Result<Vec<FolderState>, StorageError> {
        let account = normalize_address(account)?;
        if self.get_account(&account)?.is_none() {
            return Err(StorageError::NotFound(format!("account {account}")));
        }
        let mut out = Vec::new();
        for entry in self
            .tree(TreeIx::FolderNames)
            .scan_prefix(keys::account_prefix(&account))
        {
            let (_, v) = entry?;
            out.push(self.folder_state(keys::decode_u64(&v, "folder id")?)?);
        }
        out.sort_by(|a, b| (a.name != "INBOX", &a.name).cmp(&(b.name != "INBOX", &b.name)));
        Ok(out)
    }

    /// Subscribe or unsubscribe (IMAP SUBSCRIBE/UNSUBSCRIBE).
    pub fn set_subscribed(&self, id: FolderId, subscribed: bool) -> Result<(), StorageError> {
        self.transact(|tx| {
            let mut rec = tx_folder(tx, id)?;
            rec.subscribed = subscribed;
            tx_put_folder(tx, id, &rec)
        })
    }

    /// Rename a folder, keeping its UIDVALIDITY and messages. INBOX cannot be renamed here
    /// (IMAP's RENAME INBOX moves messages instead).
    pub fn rename_folder(&self, id: FolderId, new_name: &str) -> Result<(), StorageError> {
        let new_name = canonical_name(new_name)?;
        let _admin = self.admin_lock();
        self.transact(|tx| {
            let mut rec = tx_folder(tx, id)?;
            if rec.name == "INBOX" || new_name == "INBOX" {
                return abort(StorageError::Invalid("INBOX cannot be renamed".into()));
            }
            let names = tx.tree(TreeIx::FolderNames);
            let new_key = keys::folder_name_key(&rec.account, &new_name);
            if names.get(&new_key)?.is_some() {
                return abort(StorageError::Exists(format!(
                    "folder {new_name} of {}",
                    rec.account
                )));
            }
            names.remove(keys::folder_name_key(&rec.account, &rec.name))?;
            names.insert(new_key, &id.to_be_bytes())?;
            rec.name = new_name.clone();
            tx_put_folder(tx, id, &rec)
        })
    }

    /// Delete a folder with its messages (releasing their blobs). INBOX cannot be deleted.
    pub fn delete_folder(&self, id: FolderId) -> Result<(), StorageError> {
        let _admin = self.admin_lock();
        let state = self.folder_state(id)?;
        if state.name == "INBOX" {
            return Err(StorageError::Invalid("INBOX cannot be deleted".into()));
        }
        self.retry_while_changing(|| {
            let snap = self.folder_snapshot(id)?;
            let zeroed = self.transact(|tx| {
                let mut refs = RefDelta::default();
                tx_drop_folder(tx, &mut refs, &snap)?;
                refs.apply(tx, self.blobs())
            })?;
            self.collect_blobs(&zeroed);
            Ok(())
        })
    }

    /// Scan what deleting folder `id` has to remove.
    pub(crate) fn folder_snapshot(&self, id: FolderId) -> Result<FolderSnapshot, StorageError> {
        let state = self.folder_state(id)?;
        let scan = |ix: TreeIx| -> Result<Vec<u32>, StorageError> {
            self.tree(ix)
                .scan_prefix(id.to_be_bytes())
                .keys()
                .map(|k| keys::uid_of_message_key(&k?))
                .collect()
        };
        Ok(FolderSnapshot {
            id,
            uidnext: state.uidnext,
            highest_modseq: state.highest_modseq,
            messages: scan(TreeIx::Messages)?,
            expunged: scan(TreeIx::Expunged)?,
        })
    }

    /// Run a scan-then-delete step again while concurrent appends invalidate its scan.
    pub(crate) fn retry_while_changing(
        &self,
        mut step: impl FnMut() -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        for _ in 0..100 {
            match step() {
                Err(StorageError::Conflict(s)) if s == CHANGED_DURING_DELETE => continue,
                other => return other,
            }
        }
        Err(StorageError::Conflict(CHANGED_DURING_DELETE.into()))
    }

    /// The messages of a folder, in UID order.
    pub fn list_messages(&self, folder: FolderId) -> Result<Vec<MessageRecord>, StorageError> {
        self.folder_state(folder)?;
        self.tree(TreeIx::Messages)
            .scan_prefix(folder.to_be_bytes())
            .map(|entry| {
                let (k, v) = entry?;
                let value: MessageValue = keys::decode(&v, "message")?;
                Ok(value.record(keys::uid_of_message_key(&k)?))
            })
            .collect()
    }

    pub fn get_message(
        &self,
        folder: FolderId,
        uid: u32,
    ) -> Result<Option<MessageRecord>, StorageError> {
        let value: Option<MessageValue> = keys::get(
            self.tree(TreeIx::Messages),
            &message_key(folder, uid),
            "message",
        )?;
        Ok(value.map(|v| v.record(uid)))
    }

    /// Append a message in one transaction: it gets uid = UIDNEXT and modseq = the new highest
    /// modseq, and takes a reference on its blob (which must exist). With `consume` =
    /// `(queue, id, recipient index)`, the same transaction marks that recipient delivered
    /// (deleting the queue record when it was the last); if it is missing or already delivered
    /// the whole append aborts with Conflict, so a retried delivery never duplicates.
    pub fn append_message(
        &self,
        folder: FolderId,
        msg: NewMessage,
        consume: Option<(QueueName, QueueId, usize)>,
    ) -> Result<(u32, u64), StorageError> {
        let flags = msg.flags.normalized()?;
        let ((uid, modseq), zeroed) = self.transact(|tx| {
            let mut refs = RefDelta::default();
            let mut rec = tx_folder(tx, folder)?;
            let uid = rec.uidnext;
            if uid == u32::MAX {
                return abort(StorageError::Invalid(format!(
                    "folder {} of {} has used up its UIDs",
                    rec.name, rec.account
                )));
            }
            rec.uidnext += 1;
            rec.highest_modseq += 1;
            rec.exists = rec.exists.saturating_add(1);
            let value = MessageValue {
                flags: flags.clone(),
                size: msg.size,
                internal_date: msg.internal_date,
                blob: msg.blob,
                modseq: rec.highest_modseq,
            };
            tx_put(tx.tree(TreeIx::Messages), &message_key(folder, uid), &value)?;
            refs.add(msg.blob);
            if let Some((queue, id, index)) = consume {
                tx_consume(tx, &mut refs, queue, id, index)?;
            }
            tx_put_folder(tx, folder, &rec)?;
            Ok(((uid, rec.highest_modseq), refs.apply(tx, self.blobs())?))
        })?;
        self.collect_blobs(&zeroed);
        Ok((uid, modseq))
    }

    /// Replace a message's flags. Returns its modseq: a new one if the flags changed, the old one
    /// if they did not (RFC 7162 §3.1.3 leaves an unchanged message's modseq alone).
    pub fn set_flags(&self, folder: FolderId, uid: u32, flags: Flags) -> Result<u64, StorageError> {
        let flags = flags.normalized()?;
        self.transact(|tx| {
            let mut rec = tx_folder(tx, folder)?;
            let messages = tx.tree(TreeIx::Messages);
            let key = message_key(folder, uid);
            let Some(mut m) = tx_get::<MessageValue>(messages, &key, "message")? else {
                return abort(StorageError::NotFound(format!(
                    "message uid {uid} in folder {folder}"
                )));
            };
            if m.flags == flags {
                return Ok(m.modseq);
            }
            rec.highest_modseq += 1;
            m.flags = flags.clone();
            m.modseq = rec.highest_modseq;
            tx_put(messages, &key, &m)?;
            tx_put_folder(tx, folder, &rec)?;
            Ok(m.modseq)
        })
    }

    /// Remove the listed messages (absent UIDs are ignored), releasing their blobs and
    /// remembering each UID with the expunge's modseq. Returns the folder's highest modseq
    /// (unchanged when nothing was removed).
    pub fn expunge(&self, folder: FolderId, uids: &[u32]) -> Result<u64, StorageError> {
        let (modseq, zeroed) = self.transact(|tx| {
            let mut refs = RefDelta::default();
            let mut rec = tx_folder(tx, folder)?;
            let messages = tx.tree(TreeIx::Messages);
            let new_modseq = rec.highest_modseq + 1;
            let mut removed = 0u32;
            for uid in uids {
                let key = message_key(folder, *uid);
                if let Some(m) = tx_get::<MessageValue>(messages, &key, "message")? {
                    messages.remove(&key)?;
                    tx.tree(TreeIx::Expunged)
                        .insert(&key, &new_modseq.to_be_bytes())?;
                    refs.release(m.blob);
                    removed += 1;
                }
            }
            if removed > 0 {
                rec.highest_modseq = new_modseq;
                rec.exists = rec.exists.saturating_sub(removed);
                tx_put_folder(tx, folder, &rec)?;
            }
            Ok((rec.highest_modseq, refs.apply(tx, self.blobs())?))
        })?;
        self.collect_blobs(&zeroed);
        Ok(modseq)
    }

    /// UIDs expunged with a modseq greater than `modseq`, ascending (QRESYNC VANISHED).
    pub fn expunged_since(&self, folder: FolderId, modseq: u64) -> Result<Vec<u32>, StorageError> {
        let mut out = Vec::new();
        for entry in self
            .tree(TreeIx::Expunged)
            .scan_prefix(folder.to_be_bytes())
        {
            let (k, v) = entry?;
            if keys::decode_u64(&v, "expunge modseq")? > modseq {
                out.push(keys::uid_of_message_key(&k)?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "folders_tests.rs"]
mod tests;
