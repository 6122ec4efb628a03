//! Mail folders: MDaemon's IMAP.MRK state in sled.
//!
//! Per folder (`v1/folders`): UIDVALIDITY, UIDNEXT, the highest modseq (the change counter used
//! by IDLE, CONDSTORE/QRESYNC, EAS SyncKey and DAV sync tokens), the message count and the
//! subscription. Per message (`v1/messages`, keyed folder ++ uid): flags, size, internal date,
//! body blob and the modseq of its last change. Expunged UIDs stay in `v1/expunged` with the
//! modseq of their expunge, so QRESYNC can report VANISHED.
//!
//! Beside each record, `v1/folder_ext` keeps what STATUS and SELECT need in O(1): unseen,
//! deleted and size counters, the \Recent watermark, the keywords ever used, the `\Noselect`
//! state and the size and horizon of the expunge history. ACLs are in [`super::acl`], quota in
//! [`super::quota`]; message changes go through [`super::changes::Changes`].
//!
//! Hierarchy: names are '/'-separated; CREATE makes missing parents, RENAME carries children
//! along, DELETE of a folder with children leaves a `\Noselect` placeholder. Public folders
//! belong to [`PUBLIC_OWNER`].
//!
//! Invariants: a UID is handed out once per UIDVALIDITY (uidnext only grows); every operation
//! that changes messages bumps `highest_modseq` by one and stamps the changed messages with the
//! new value; `exists` equals the number of message records, and the counters match them.

use super::acl::{tx_drop_acl, tx_inherit_acl};
use super::blobrefs::RefDelta;
use super::changes::Changes;
use super::folder_record::{
    tx_load_folder, tx_save_folder, Folder, FolderExt, FolderRecord, MessageValue,
};
use super::keys::{self, message_key, tx_get, TreeIx, UIDVALIDITY_KEY};
use super::queue::tx_consume;
use super::queue_counts::QueueDelta;
use super::quota::tx_add_usage;
use super::{abort, now_secs, SledStore, StorageError, Tx, TxResult};
use crate::storage::folders::*;
use crate::storage::queue::{QueueId, QueueName};

/// The marker of a folder that changed between its scan and the transaction acting on it.
const CHANGED_DURING_SCAN: &str = "folder changed while being scanned; try again";

/// What deleting a folder must remove, scanned before the transaction (which cannot scan).
pub(crate) struct FolderSnapshot {
    id: FolderId,
    uidnext: u32,
    highest_modseq: u64,
    messages: Vec<u32>,
    expunged: Vec<u32>,
}

/// The id of `owner`'s folder `name` (canonical) inside a transaction.
fn tx_lookup(tx: &Tx, owner: &str, name: &str) -> TxResult<Option<FolderId>> {
    match tx
        .tree(TreeIx::FolderNames)
        .get(keys::folder_name_key(owner, name))?
    {
        None => Ok(None),
        Some(v) => match keys::decode_u64(&v, "folder id") {
            Ok(id) => Ok(Some(id)),
            Err(e) => abort(e),
        },
    }
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

/// Create folder `name` for `owner` (both already canonical) inside a transaction. Parents are
/// not looked at (see [`tx_create_path`]).
pub(crate) fn tx_create_folder(
    tx: &Tx,
    owner: &str,
    name: &str,
    special_use: Option<&str>,
) -> TxResult<FolderId> {
    let names = tx.tree(TreeIx::FolderNames);
    let name_key = keys::folder_name_key(owner, name);
    if names.get(&name_key)?.is_some() {
        return abort(StorageError::Exists(format!("folder {name} of {owner}")));
    }
    let id = tx.tree(TreeIx::Folders).generate_id()? + 1;
    let mut folder = Folder {
        rec: FolderRecord {
            account: owner.to_string(),
            name: name.to_string(),
            special_use: special_use.map(str::to_string),
            uidvalidity: tx_next_uidvalidity(tx)?,
            uidnext: 1,
            highest_modseq: 1,
            exists: 0,
            subscribed: true,
        },
        ext: FolderExt::empty(1),
    };
    tx_save_folder(tx, id, &mut folder)?;
    names.insert(name_key, &id.to_be_bytes())?;
    Ok(id)
}

/// Create the missing ancestors of `name` (RFC 9051 §6.3.4), each inheriting the ACL of its
/// parent. Returns the id of `name`'s parent, if it has one.
fn tx_create_ancestors(tx: &Tx, owner: &str, name: &str) -> TxResult<Option<FolderId>> {
    let mut parent = None;
    for ancestor in ancestors(name) {
        let ancestor = match canonical_name(ancestor) {
            Ok(a) => a,
            Err(e) => return abort(e),
        };
        parent = Some(match tx_lookup(tx, owner, &ancestor)? {
            Some(id) => id,
            None => {
                let id = tx_create_folder(tx, owner, &ancestor, None)?;
                if let Some(p) = parent {
                    tx_inherit_acl(tx, p, id)?;
                }
                id
            }
        });
    }
    Ok(parent)
}

/// Create `name` and its missing ancestors; each new folder inherits its parent's ACL (MDaemon
/// semantics). An existing `\Noselect` placeholder of that name becomes a normal, empty folder
/// with a fresh UIDVALIDITY when `revive` is set; otherwise an existing name is Exists.
pub(crate) fn tx_create_path(
    tx: &Tx,
    owner: &str,
    name: &str,
    special_use: Option<&str>,
    revive: bool,
) -> TxResult<FolderId> {
    let parent = tx_create_ancestors(tx, owner, name)?;
    if let Some(id) = tx_lookup(tx, owner, name)? {
        let mut folder = tx_load_folder(tx, id)?;
        if !(revive && folder.ext.noselect) {
            return abort(StorageError::Exists(format!("folder {name} of {owner}")));
        }
        folder.rec.uidvalidity = tx_next_uidvalidity(tx)?;
        folder.rec.uidnext = 1;
        folder.rec.highest_modseq = 1;
        folder.rec.exists = 0;
        if special_use.is_some() {
            folder.rec.special_use = special_use.map(str::to_string);
        }
        folder.ext = FolderExt::empty(1);
        tx_save_folder(tx, id, &mut folder)?;
        return Ok(id);
    }
    let id = tx_create_folder(tx, owner, name, special_use)?;
    if let Some(p) = parent {
        tx_inherit_acl(tx, p, id)?;
    }
    Ok(id)
}

/// Remove a scanned folder's messages and expunge history inside a transaction, releasing the
/// blobs and the owner's quota usage. Aborts with [`CHANGED_DURING_SCAN`] if the folder changed
/// since the scan. Returns the folder, to be saved or removed by the caller.
fn tx_empty_folder(tx: &Tx, refs: &mut RefDelta, snap: &FolderSnapshot) -> TxResult<Folder> {
    let folder = tx_load_folder(tx, snap.id)?;
    if folder.rec.uidnext != snap.uidnext || folder.rec.highest_modseq != snap.highest_modseq {
        return abort(StorageError::Conflict(CHANGED_DURING_SCAN.into()));
    }
    // RFC 5464: a mailbox's METADATA entries go with it.
    super::metadata::tx_drop_metadata(tx, snap.id)?;
    // RFC 4467: its URLAUTH keys too, so a new mailbox of the name honours no old URL.
    super::urlauth::tx_drop_keys(tx, snap.id)?;
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
    let bytes = i64::try_from(folder.ext.size).unwrap_or(i64::MAX);
    tx_add_usage(
        tx,
        &folder.rec.account,
        -bytes,
        -i64::from(folder.rec.exists),
    )?;
    Ok(folder)
}

/// Remove a scanned folder with its messages, expunge history, counters and ACL inside a
/// transaction. Aborts with Conflict if the folder changed since the scan.
pub(crate) fn tx_drop_folder(tx: &Tx, refs: &mut RefDelta, snap: &FolderSnapshot) -> TxResult<()> {
    let folder = tx_empty_folder(tx, refs, snap)?;
    tx_drop_acl(tx, snap.id)?;
    tx.tree(TreeIx::FolderNames)
        .remove(keys::folder_name_key(&folder.rec.account, &folder.rec.name))?;
    tx.tree(TreeIx::Folders).remove(&snap.id.to_be_bytes())?;
    tx.tree(TreeIx::FolderExt).remove(&snap.id.to_be_bytes())?;
    Ok(())
}

impl SledStore {
    /// A folder with its counters, read outside transactions.
    pub(crate) fn load_folder(&self, id: FolderId) -> Result<Folder, StorageError> {
        let key = id.to_be_bytes();
        let Some(rec) = keys::get::<FolderRecord>(self.tree(TreeIx::Folders), &key, "folder")?
        else {
            return Err(folder_not_found(id));
        };
        let ext = keys::get::<FolderExt>(self.tree(TreeIx::FolderExt), &key, "folder counters")?
            .unwrap_or_else(|| FolderExt::empty(rec.uidnext));
        Ok(Folder { rec, ext })
    }

    /// The folders below `name` of `owner` (any depth), by name.
    fn children(&self, owner: &str, name: &str) -> Result<Vec<(String, FolderId)>, StorageError> {
        let prefix = keys::folder_name_key(owner, &format!("{name}{SEPARATOR}"));
        let skip = keys::account_prefix(owner).len();
        let mut out = Vec::new();
        for entry in self.tree(TreeIx::FolderNames).scan_prefix(&prefix) {
            let (k, v) = entry?;
            let child = String::from_utf8(k.get(skip..).unwrap_or_default().to_vec())
                .map_err(|_| StorageError::Encoding("folder name is not UTF-8".into()))?;
            out.push((child, keys::decode_u64(&v, "folder id")?));
        }
        Ok(out)
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

    /// Run a scan-then-write step again while concurrent changes invalidate its scan.
    pub(crate) fn retry_while_changing(
        &self,
        mut step: impl FnMut() -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        for _ in 0..100 {
            match step() {
                Err(StorageError::Conflict(s)) if s == CHANGED_DURING_SCAN => continue,
                other => return other,
            }
        }
        Err(StorageError::Conflict(CHANGED_DURING_SCAN.into()))
    }
}

impl SledStore {
    pub(crate) fn create_folder(
        &self,
        account: &str,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<FolderId, StorageError> {
        let owner = normalize_owner(account)?;
        let name = canonical_name(name)?;
        check_special_use(special_use)?;
        let _admin = self.admin_lock();
        self.transact(|tx| {
            if owner != PUBLIC_OWNER && tx.tree(TreeIx::Accounts).get(owner.as_bytes())?.is_none() {
                return abort(StorageError::NotFound(format!("account {owner}")));
            }
            tx_create_path(tx, &owner, &name, special_use, true)
        })
    }

    pub(crate) fn set_subscribed(
        &self,
        id: FolderId,
        subscribed: bool,
    ) -> Result<(), StorageError> {
        self.transact(|tx| {
            let mut folder = tx_load_folder(tx, id)?;
            folder.rec.subscribed = subscribed;
            tx_save_folder(tx, id, &mut folder)
        })
    }

    pub(crate) fn rename_folder(&self, id: FolderId, new_name: &str) -> Result<(), StorageError> {
        let new_name = canonical_name(new_name)?;
        let _admin = self.admin_lock();
        let state = self.folder_state(id)?;
        check_rename(&state.name, &new_name)?;
        let owner = state.account.clone();
        let mut moves = vec![(state.name.clone(), id)];
        moves.extend(self.children(&owner, &state.name)?);
        self.transact(|tx| {
            let names = tx.tree(TreeIx::FolderNames);
            for (old, _) in &moves {
                let new = renamed(old, &state.name, &new_name);
                if names.get(keys::folder_name_key(&owner, &new))?.is_some() {
                    return abort(StorageError::Exists(format!("folder {new} of {owner}")));
                }
            }
            tx_create_ancestors(tx, &owner, &new_name)?;
            for (old, folder_id) in &moves {
                let mut folder = tx_load_folder(tx, *folder_id)?;
                if folder.rec.name != *old {
                    return abort(StorageError::Conflict(CHANGED_DURING_SCAN.into()));
                }
                let new = renamed(old, &state.name, &new_name);
                names.remove(keys::folder_name_key(&owner, old))?;
                names.insert(
                    keys::folder_name_key(&owner, &new),
                    &folder_id.to_be_bytes(),
                )?;
                folder.rec.name = new;
                tx_save_folder(tx, *folder_id, &mut folder)?;
            }
            Ok(())
        })
    }

    pub(crate) fn rename_inbox(&self, account: &str, to: &str) -> Result<FolderId, StorageError> {
        let (owner, to) = rename_inbox_args(account, to)?;
        let _admin = self.admin_lock();
        let inbox = self
            .folder_id(&owner, "INBOX")?
            .ok_or_else(|| StorageError::NotFound(format!("folder INBOX of {owner}")))?;
        let uids = self.uid_list(inbox)?;
        let (id, zeroed) = self.transact(|tx| {
            let id = tx_create_path(tx, &owner, &to, None, false)?;
            let mut changes = Changes::new(tx);
            for uid in &uids {
                if let Some(m) = changes.remove_message(inbox, *uid)? {
                    changes.add_message(id, &m.flags, m.size, m.internal_date, m.blob)?;
                }
            }
            Ok((id, changes.finish(self.blobs())?))
        })?;
        self.collect_after_commit(&zeroed);
        self.trim_expunged(inbox);
        Ok(id)
    }

    pub(crate) fn delete_folder(&self, id: FolderId) -> Result<(), StorageError> {
        let _admin = self.admin_lock();
        let state = self.folder_state(id)?;
        if state.name == "INBOX" {
            return Err(StorageError::Invalid("INBOX cannot be deleted".into()));
        }
        let has_children = !self.children(&state.account, &state.name)?.is_empty();
        if has_children && state.noselect {
            return Err(StorageError::Invalid(format!(
                "folder {} has child folders and is already \\Noselect",
                state.name
            )));
        }
        self.retry_while_changing(|| {
            let snap = self.folder_snapshot(id)?;
            let zeroed = self.transact(|tx| {
                let mut refs = RefDelta::default();
                if state.subscribed && !state.account.is_empty() {
                    tx.tree(TreeIx::Subscriptions).insert(
                        super::subscriptions::key(&state.account, &state.name),
                        &[][..],
                    )?;
                }
                if has_children {
                    let mut folder = tx_empty_folder(tx, &mut refs, &snap)?;
                    folder.rec.exists = 0;
                    folder.rec.highest_modseq += 1;
                    folder.ext = FolderExt {
                        noselect: true,
                        recent_from: folder.rec.uidnext,
                        vanished_horizon: folder.rec.highest_modseq,
                        ..FolderExt::default()
                    };
                    tx_save_folder(tx, id, &mut folder)?;
                } else {
                    tx_drop_folder(tx, &mut refs, &snap)?;
                }
                refs.apply(tx, self.blobs())
            })?;
            self.collect_after_commit(&zeroed);
            Ok(())
        })
    }

    pub(crate) fn append_message(
        &self,
        folder: FolderId,
        msg: NewMessage,
        consume: Option<(QueueName, QueueId, usize)>,
    ) -> Result<(u32, u64), StorageError> {
        let flags = msg.flags.normalized()?;
        let ((uid, modseq), zeroed, queued) = self.transact(|tx| {
            let mut changes = Changes::new(tx);
            let mut queued = QueueDelta::default();
            let uid = changes.add_message(folder, &flags, msg.size, msg.internal_date, msg.blob)?;
            if let Some((queue, id, index)) = consume {
                tx_consume(tx, &mut changes.refs, &mut queued, queue, id, index)?;
            }
            let modseq = changes.modseq(folder)?;
            Ok(((uid, modseq), changes.finish(self.blobs())?, queued))
        })?;
        self.count_queued(queued);
        self.collect_after_commit(&zeroed);
        Ok((uid, modseq))
    }

    pub(crate) fn set_flags(
        &self,
        folder: FolderId,
        uid: u32,
        flags: Flags,
    ) -> Result<u64, StorageError> {
        let flags = flags.normalized()?;
        self.transact(|tx| {
            let mut changes = Changes::new(tx);
            changes.folder(folder)?;
            let Some(mut m) = changes.message(folder, uid)? else {
                return abort(StorageError::NotFound(format!(
                    "message uid {uid} in folder {folder}"
                )));
            };
            if m.flags == flags {
                return Ok(m.modseq);
            }
            let modseq = changes.set_flags(folder, uid, &mut m, flags.clone())?;
            changes.finish(self.blobs())?;
            Ok(modseq)
        })
    }

    pub(crate) fn expunge(&self, folder: FolderId, uids: &[u32]) -> Result<u64, StorageError> {
        let (modseq, zeroed) = self.transact(|tx| {
            let mut changes = Changes::new(tx);
            changes.folder(folder)?;
            for uid in uids {
                changes.remove_message(folder, *uid)?;
            }
            let modseq = changes.folder(folder)?.rec.highest_modseq;
            Ok((modseq, changes.finish(self.blobs())?))
        })?;
        self.collect_after_commit(&zeroed);
        self.trim_expunged(folder);
        Ok(modseq)
    }
}

impl SledStore {
    pub(crate) fn folder_id(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<FolderId>, StorageError> {
        let owner = normalize_owner(account)?;
        let name = canonical_name(name)?;
        match self
            .tree(TreeIx::FolderNames)
            .get(keys::folder_name_key(&owner, &name))?
        {
            None => Ok(None),
            Some(v) => keys::decode_u64(&v, "folder id").map(Some),
        }
    }

    pub(crate) fn folder_state(&self, id: FolderId) -> Result<FolderState, StorageError> {
        Ok(self.load_folder(id)?.state(id))
    }

    pub(crate) fn list_folders(&self, account: &str) -> Result<Vec<FolderState>, StorageError> {
        let owner = normalize_owner(account)?;
        if owner != PUBLIC_OWNER && self.get_account(&owner)?.is_none() {
            return Err(StorageError::NotFound(format!("account {owner}")));
        }
        let mut out = Vec::new();
        for entry in self
            .tree(TreeIx::FolderNames)
            .scan_prefix(keys::account_prefix(&owner))
        {
            let (_, v) = entry?;
            out.push(self.folder_state(keys::decode_u64(&v, "folder id")?)?);
        }
        out.sort_by(|a, b| (a.name != "INBOX", &a.name).cmp(&(b.name != "INBOX", &b.name)));
        Ok(out)
    }

    pub(crate) fn list_messages(
        &self,
        folder: FolderId,
    ) -> Result<Vec<MessageRecord>, StorageError> {
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

    pub(crate) fn messages_from(
        &self,
        folder: FolderId,
        first_uid: u32,
    ) -> Result<Vec<MessageRecord>, StorageError> {
        let end = folder.checked_add(1).map(|f| f.to_be_bytes().to_vec());
        let start = message_key(folder, first_uid);
        let range = match &end {
            Some(e) => self
                .tree(TreeIx::Messages)
                .range(start.as_ref()..e.as_slice()),
            None => self.tree(TreeIx::Messages).range(start.as_ref()..),
        };
        range
            .map(|entry| {
                let (k, v) = entry?;
                let value: MessageValue = keys::decode(&v, "message")?;
                Ok(value.record(keys::uid_of_message_key(&k)?))
            })
            .collect()
    }

    pub(crate) fn get_message(
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

    pub(crate) fn expunged_since(
        &self,
        folder: FolderId,
        modseq: u64,
    ) -> Result<Vec<u32>, StorageError> {
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
