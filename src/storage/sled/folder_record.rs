//! A folder's stored records (`v1/folders`, `v1/folder_ext`) and a message's value
//! (`v1/messages`), loaded and saved inside transactions. Below every module that changes
//! folders (changes, messages, acl, quota, metadata, urlauth, folders), which import it and
//! nothing of each other's for it.

use serde::{Deserialize, Serialize};

use super::keys::{tx_get, tx_put, TreeIx};
use super::{abort, Tx, TxResult};
use crate::storage::blobs::BlobId;
use crate::storage::folders::*;
use crate::storage::StorageError;

/// Stored value of `v1/folders` (its shape is fixed by schema 1).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct FolderRecord {
    pub(crate) account: String,
    pub(crate) name: String,
    pub(crate) special_use: Option<String>,
    pub(crate) uidvalidity: u32,
    pub(crate) uidnext: u32,
    pub(crate) highest_modseq: u64,
    pub(crate) exists: u32,
    pub(crate) subscribed: bool,
}

/// Stored value of `v1/folder_ext`: the counters and IMAP state kept beside a `FolderRecord`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct FolderExt {
    /// The record's UIDNEXT and modseq when this was last written: a mismatch means a build
    /// without this tree changed the folder, and the counters are rebuilt at open.
    pub(crate) synced_uidnext: u32,
    pub(crate) synced_modseq: u64,
    pub(crate) unseen: u32,
    pub(crate) deleted: u32,
    pub(crate) size: u64,
    pub(crate) noselect: bool,
    /// The \Recent watermark: messages with uid >= it are recent for the next claimer.
    pub(crate) recent_from: u32,
    /// Keywords ever used in the folder (for FLAGS and PERMANENTFLAGS).
    pub(crate) keywords: Vec<String>,
    /// Records of this folder in `v1/expunged`.
    pub(crate) expunged: u32,
    /// Every expunge with a modseq above this is still in `v1/expunged`.
    pub(crate) vanished_horizon: u64,
}

impl FolderExt {
    /// The counters of an empty folder whose \Recent watermark is `recent_from`.
    pub(crate) fn empty(recent_from: u32) -> FolderExt {
        FolderExt {
            recent_from,
            ..FolderExt::default()
        }
    }

    /// Count a message in (`add`) or out of the unseen/deleted/size counters.
    pub(crate) fn count(&mut self, flags: &Flags, size: u64, add: bool) {
        let step = |n: u32| {
            if add {
                n.saturating_add(1)
            } else {
                n.saturating_sub(1)
            }
        };
        if !flags.has(Flags::SEEN) {
            self.unseen = step(self.unseen);
        }
        if flags.has(Flags::DELETED) {
            self.deleted = step(self.deleted);
        }
        self.size = if add {
            self.size.saturating_add(size)
        } else {
            self.size.saturating_sub(size)
        };
    }

    /// Add the keywords of `flags` not known yet; false (and nothing added) when that would
    /// pass the limit.
    pub(crate) fn note_keywords(&mut self, flags: &Flags) -> bool {
        note_keywords(&mut self.keywords, flags)
    }

    pub(crate) fn in_step_with(&self, rec: &FolderRecord) -> bool {
        self.synced_uidnext == rec.uidnext && self.synced_modseq == rec.highest_modseq
    }
}

/// A folder as the transactions handle it: its record and its counters.
#[derive(Clone, Debug)]
pub(crate) struct Folder {
    pub(crate) rec: FolderRecord,
    pub(crate) ext: FolderExt,
}

impl Folder {
    pub(crate) fn state(&self, id: FolderId) -> FolderState {
        let rec = &self.rec;
        FolderState {
            id,
            account: rec.account.clone(),
            name: rec.name.clone(),
            special_use: rec.special_use.clone(),
            uidvalidity: rec.uidvalidity,
            uidnext: rec.uidnext,
            highest_modseq: rec.highest_modseq,
            exists: rec.exists,
            subscribed: rec.subscribed,
            unseen: self.ext.unseen,
            deleted: self.ext.deleted,
            size: self.ext.size,
            noselect: self.ext.noselect,
        }
    }

    /// Remember the keywords of `flags`; Invalid when the folder already has too many.
    pub(crate) fn note_keywords(&mut self, flags: &Flags) -> Result<(), StorageError> {
        if self.ext.note_keywords(flags) {
            Ok(())
        } else {
            Err(too_many_keywords(&self.rec.name))
        }
    }
}

/// Stored value of `v1/messages`. `save_date` was added after schema 1 shipped: it is the
/// last field, and a value written without it (five fields) still reads, with `None` (see
/// `message_value.rs`).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct MessageValue {
    pub(crate) flags: Flags,
    pub(crate) size: u64,
    pub(crate) internal_date: i64,
    pub(crate) blob: BlobId,
    pub(crate) modseq: u64,
    pub(crate) save_date: Option<i64>,
}

impl MessageValue {
    pub(crate) fn record(self, uid: u32) -> MessageRecord {
        MessageRecord {
            uid,
            flags: self.flags,
            size: self.size,
            internal_date: self.internal_date,
            blob: self.blob,
            modseq: self.modseq,
            save_date: self.save_date.unwrap_or(self.internal_date),
        }
    }
}

/// Load a folder with its counters inside a transaction.
pub(crate) fn tx_load_folder(tx: &Tx, id: FolderId) -> TxResult<Folder> {
    let key = id.to_be_bytes();
    let Some(rec) = tx_get::<FolderRecord>(tx.tree(TreeIx::Folders), &key, "folder")? else {
        return abort(folder_not_found(id));
    };
    match tx_get::<FolderExt>(tx.tree(TreeIx::FolderExt), &key, "folder counters")? {
        Some(ext) if ext.in_step_with(&rec) => Ok(Folder { rec, ext }),
        // Only a build without `v1/folder_ext` writing while this one runs could cause this;
        // SledStore::open rebuilds the counters.
        _ => abort(StorageError::Encoding(format!(
            "the counters of folder {id} are out of date; reopen the data directory to rebuild them"
        ))),
    }
}

/// Write a folder and its counters inside a transaction.
pub(crate) fn tx_save_folder(tx: &Tx, id: FolderId, folder: &mut Folder) -> TxResult<()> {
    folder.ext.synced_uidnext = folder.rec.uidnext;
    folder.ext.synced_modseq = folder.rec.highest_modseq;
    let key = id.to_be_bytes();
    tx_put(tx.tree(TreeIx::Folders), &key, &folder.rec)?;
    tx_put(tx.tree(TreeIx::FolderExt), &key, &folder.ext)
}
