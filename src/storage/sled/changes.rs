//! The bookkeeping every message change shares, so that no operation can forget a counter:
//! [`Changes`] adds, removes and re-flags messages inside one transaction and keeps, in step
//! with them, each folder's UIDNEXT, modseq, `exists`, unseen/deleted/size counters, keywords
//! and expunge history, the blob reference counts and the owners' quota usage (checked against
//! their limits at [`Changes::finish`]).
//!
//! Also here: the rebuild of the counters from the messages (at open, for folders written by a
//! build that did not keep them, and for [`SledStore::recompute_quota`]).

use std::collections::BTreeMap;

use super::blobrefs::RefDelta;

use super::folder_record::{
    tx_load_folder, tx_save_folder, Folder, FolderExt, FolderRecord, MessageValue,
};
use super::keys::{self, message_key, tx_get, tx_put, TreeIx};
use super::quota::tx_add_usage;
use super::{abort, SledStore, StorageError, Tx, TxResult};
use crate::storage::blobs::{BlobId, BlobStore};
use crate::storage::folders::{Flags, FolderId};

/// The changes of one operation inside one transaction. Every folder touched gets one new
/// modseq for the whole operation (RFC 7162 allows equal modseqs within one command).
pub(crate) struct Changes<'t> {
    tx: &'t Tx<'t>,
    folders: BTreeMap<FolderId, Folder>,
    /// The new modseq of each folder changed so far.
    bumped: BTreeMap<FolderId, u64>,
    pub(crate) refs: RefDelta,
    /// Per owner: (bytes, messages) added (negative: removed).
    usage: BTreeMap<String, (i64, i64)>,
}

impl<'t> Changes<'t> {
    pub(crate) fn new(tx: &'t Tx<'t>) -> Changes<'t> {
        Changes {
            tx,
            folders: BTreeMap::new(),
            bumped: BTreeMap::new(),
            refs: RefDelta::default(),
            usage: BTreeMap::new(),
        }
    }

    /// The folder, loaded once per operation (NotFound if it does not exist).
    pub(crate) fn folder(&mut self, id: FolderId) -> TxResult<&mut Folder> {
        if !self.folders.contains_key(&id) {
            let folder = tx_load_folder(self.tx, id)?;
            self.folders.insert(id, folder);
        }
        match self.folders.get_mut(&id) {
            Some(f) => Ok(f),
            None => abort(crate::storage::folders::folder_not_found(id)),
        }
    }

    /// The folder's modseq for this operation: the new one if a change bumped it, else its
    /// current highest modseq.
    pub(crate) fn modseq(&mut self, id: FolderId) -> TxResult<u64> {
        match self.bumped.get(&id) {
            Some(m) => Ok(*m),
            None => Ok(self.folder(id)?.rec.highest_modseq),
        }
    }

    fn bump(&mut self, id: FolderId) -> TxResult<u64> {
        if let Some(m) = self.bumped.get(&id) {
            return Ok(*m);
        }
        let folder = self.folder(id)?;
        folder.rec.highest_modseq += 1;
        let m = folder.rec.highest_modseq;
        self.bumped.insert(id, m);
        Ok(m)
    }

    fn add_usage(&mut self, owner: &str, bytes: u64, add: bool) {
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        let entry = self.usage.entry(owner.to_string()).or_insert((0, 0));
        if add {
            entry.0 = entry.0.saturating_add(bytes);
            entry.1 += 1;
        } else {
            entry.0 = entry.0.saturating_sub(bytes);
            entry.1 -= 1;
        }
    }

    /// The message `uid` of `folder` as this transaction sees it.
    pub(crate) fn message(&self, folder: FolderId, uid: u32) -> TxResult<Option<MessageValue>> {
        tx_get(
            self.tx.tree(TreeIx::Messages),
            &message_key(folder, uid),
            "message",
        )
    }

    /// Add a message (flags already normalised) with uid = UIDNEXT; Invalid for a `\Noselect`
    /// folder or one whose UIDs are used up.
    pub(crate) fn add_message(
        &mut self,
        id: FolderId,
        flags: &Flags,
        size: u64,
        internal_date: i64,
        blob: BlobId,
    ) -> TxResult<u32> {
        let folder = self.folder(id)?;
        if folder.ext.noselect {
            return abort(StorageError::Invalid(format!(
                "folder {} of {} is \\Noselect",
                folder.rec.name, folder.rec.account
            )));
        }
        if folder.rec.uidnext == u32::MAX {
            return abort(StorageError::Invalid(format!(
                "folder {} of {} has used up its UIDs",
                folder.rec.name, folder.rec.account
            )));
        }
        let modseq = self.bump(id)?;
        let folder = self.folder(id)?;
        let uid = folder.rec.uidnext;
        folder.rec.uidnext += 1;
        folder.rec.exists = folder.rec.exists.saturating_add(1);
        folder.ext.count(flags, size, true);
        if let Err(e) = folder.note_keywords(flags) {
            return abort(e);
        }
        let owner = folder.rec.account.clone();
        let value = MessageValue {
            flags: flags.clone(),
            size,
            internal_date,
            blob,
            modseq,
            save_date: Some(super::now_secs() as i64),
        };
        tx_put(
            self.tx.tree(TreeIx::Messages),
            &message_key(id, uid),
            &value,
        )?;
        self.refs.add(blob);
        self.add_usage(&owner, size, true);
        Ok(uid)
    }

    /// Remove message `uid` (if present), remembering the UID with this operation's modseq.
    pub(crate) fn remove_message(
        &mut self,
        id: FolderId,
        uid: u32,
    ) -> TxResult<Option<MessageValue>> {
        self.folder(id)?;
        let Some(m) = self.message(id, uid)? else {
            return Ok(None);
        };
        let modseq = self.bump(id)?;
        let key = message_key(id, uid);
        self.tx.tree(TreeIx::Messages).remove(&key)?;
        self.tx
            .tree(TreeIx::Expunged)
            .insert(&key, &modseq.to_be_bytes())?;
        let folder = self.folder(id)?;
        folder.rec.exists = folder.rec.exists.saturating_sub(1);
        folder.ext.count(&m.flags, m.size, false);
        folder.ext.expunged = folder.ext.expunged.saturating_add(1);
        let owner = folder.rec.account.clone();
        self.refs.release(m.blob);
        self.add_usage(&owner, m.size, false);
        Ok(Some(m))
    }

    /// Give message `uid` (read as `m`) new flags (normalised, different from the old ones) and
    /// this operation's modseq. Returns that modseq.
    pub(crate) fn set_flags(
        &mut self,
        id: FolderId,
        uid: u32,
        m: &mut MessageValue,
        flags: Flags,
    ) -> TxResult<u64> {
        let modseq = self.bump(id)?;
        let folder = self.folder(id)?;
        folder.ext.count(&m.flags, 0, false);
        folder.ext.count(&flags, 0, true);
        if let Err(e) = folder.note_keywords(&flags) {
            return abort(e);
        }
        m.flags = flags;
        m.modseq = modseq;
        tx_put(self.tx.tree(TreeIx::Messages), &message_key(id, uid), m)?;
        Ok(modseq)
    }

    /// Write the folders, apply (and check) the quota usage and the blob references. Returns
    /// the blobs whose count reached 0 (to collect after the commit).
    pub(crate) fn finish(mut self, blobs: &BlobStore) -> TxResult<Vec<BlobId>> {
        for (id, folder) in self.folders.iter_mut() {
            tx_save_folder(self.tx, *id, folder)?;
        }
        for (owner, (bytes, messages)) in &self.usage {
            tx_add_usage(self.tx, owner, *bytes, *messages)?;
        }
        self.refs.apply(self.tx, blobs)
    }
}

/// Counters derived from a folder's messages.
#[derive(Default)]
struct Recount {
    exists: u32,
    ext: FolderExt,
}

impl SledStore {
    /// Count a folder's messages and expunge records (a scan).
    fn recount(&self, id: FolderId) -> Result<Recount, StorageError> {
        let mut out = Recount::default();
        for entry in self.tree(TreeIx::Messages).scan_prefix(id.to_be_bytes()) {
            let (_, v) = entry?;
            let m: MessageValue = keys::decode(&v, "message")?;
            out.exists = out.exists.saturating_add(1);
            out.ext.count(&m.flags, m.size, true);
            // The limit only bounds what new changes may add; a rebuild records what is there.
            for k in &m.flags.keywords {
                if !out.ext.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                    out.ext.keywords.push(k.clone());
                }
            }
        }
        out.ext.expunged = u32::try_from(
            self.tree(TreeIx::Expunged)
                .scan_prefix(id.to_be_bytes())
                .count(),
        )
        .unwrap_or(u32::MAX);
        Ok(out)
    }

    /// Rebuild folder `id`'s counters from its messages, keeping its noselect state, \Recent
    /// watermark, vanished horizon and known keywords. Conflict (retried by the callers) if a
    /// message changed meanwhile.
    pub(crate) fn rebuild_counters(&self, id: FolderId) -> Result<(), StorageError> {
        self.retry_while_changing(|| {
            let before = self.load_folder(id)?.rec;
            let counted = self.recount(id)?;
            self.transact(|tx| {
                let key = id.to_be_bytes();
                let Some(mut rec) =
                    tx_get::<FolderRecord>(tx.tree(TreeIx::Folders), &key, "folder")?
                else {
                    return abort(crate::storage::folders::folder_not_found(id));
                };
                if rec.uidnext != before.uidnext || rec.highest_modseq != before.highest_modseq {
                    return abort(StorageError::Conflict(
                        "folder changed while being scanned; try again".into(),
                    ));
                }
                let old = tx_get::<FolderExt>(tx.tree(TreeIx::FolderExt), &key, "counters")?;
                let mut ext = counted.ext.clone();
                match old {
                    Some(old) => {
                        ext.noselect = old.noselect;
                        ext.recent_from = old.recent_from.min(rec.uidnext);
                        ext.vanished_horizon = old.vanished_horizon;
                        let mut keywords = old.keywords;
                        for k in ext.keywords {
                            if !keywords.iter().any(|x| x.eq_ignore_ascii_case(&k)) {
                                keywords.push(k);
                            }
                        }
                        ext.keywords = keywords;
                    }
                    None => ext.recent_from = rec.uidnext,
                }
                rec.exists = counted.exists;
                tx_save_folder(tx, id, &mut Folder { rec, ext })
            })
        })
    }

    /// At open: rebuild the counters of folders that have none or stale ones (written by a
    /// build without `v1/folder_ext`), drop counters of folders that no longer exist, and
    /// re-sum the quota usage of the owners concerned and of accounts without a quota record.
    pub(crate) fn repair_counters(&self) -> Result<(), StorageError> {
        let mut owners = std::collections::BTreeSet::new();
        for entry in self.tree(TreeIx::Folders).iter() {
            let (k, v) = entry?;
            let id = keys::decode_u64(&k, "folder id")?;
            let rec: FolderRecord = keys::decode(&v, "folder")?;
            let ext: Option<FolderExt> = keys::get(self.tree(TreeIx::FolderExt), &k, "counters")?;
            if !ext.is_some_and(|e| e.in_step_with(&rec)) {
                tracing::info!(folder = id, name = %rec.name, "rebuilding folder counters");
                self.rebuild_counters(id)?;
                owners.insert(rec.account);
            }
        }
        for k in self.tree(TreeIx::FolderExt).iter().keys() {
            let k = k?;
            if !self.tree(TreeIx::Folders).contains_key(&k)? {
                self.tree(TreeIx::FolderExt).remove(&k)?;
            }
        }
        for k in self.tree(TreeIx::Accounts).iter().keys() {
            let k = k?;
            if !self.tree(TreeIx::Quota).contains_key(&k)? {
                owners.insert(String::from_utf8_lossy(&k).into_owned());
            }
        }
        for owner in owners {
            if !owner.is_empty() && self.get_account(&owner)?.is_some() {
                self.resum_usage(&owner)?;
            }
        }
        Ok(())
    }
}
