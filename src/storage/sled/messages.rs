//! Message operations IMAP needs beyond append/set_flags/expunge: bulk STORE with CONDSTORE
//! (RFC 7162 §3.1.3), COPY and MOVE with UIDPLUS results (RFC 4315, RFC 6851), MULTIAPPEND
//! (RFC 3502), \Recent (RFC 3501 §2.3.2), O(1) counts, keywords, and the bounded expunge
//! history behind QRESYNC VANISHED (RFC 7162 §3.2.5.2).
//!
//! Each operation is one transaction through [`Changes`], which keeps counters, quota and blob
//! references in step.

use super::changes::Changes;
use super::folder_record::{tx_load_folder, tx_save_folder};
use super::keys::{self, message_key, TreeIx};
use super::{abort, SledStore, StorageError, TxResult};
use crate::storage::folders::{Flags, FolderId, NewMessage};
use crate::storage::messages::*;

/// `uids` without repeats, first occurrence kept.
/// STORE's flag changes on `uids` (sorted, distinct) inside a transaction.
fn tx_store_flags(
    changes: &mut Changes<'_>,
    folder: FolderId,
    uids: &[u32],
    mode: FlagMode,
    flags: &Flags,
    unchanged_since: Option<u64>,
) -> TxResult<StoreResult> {
    let mut result = StoreResult::default();
    for uid in uids {
        let Some(mut m) = changes.message(folder, *uid)? else {
            continue;
        };
        if unchanged_since.is_some_and(|since| m.modseq > since) {
            result.modified.push(*uid);
            continue;
        }
        let new = combine(&m.flags, mode, flags);
        if same_flags(&new, &m.flags) {
            continue;
        }
        let modseq = changes.set_flags(folder, *uid, &mut m, new)?;
        result.changed.push((*uid, m.flags.clone(), modseq));
    }
    Ok(result)
}

impl SledStore {
    fn transfer(
        &self,
        from: FolderId,
        uids: &[u32],
        to: FolderId,
        remove: bool,
    ) -> Result<(Vec<(u32, u32)>, u64), StorageError> {
        let uids = distinct(uids);
        let (out, zeroed) = self.transact(|tx| {
            let mut changes = Changes::new(tx);
            changes.folder(from)?;
            changes.folder(to)?;
            let mut pairs = Vec::with_capacity(uids.len());
            for uid in &uids {
                let found = if remove {
                    changes.remove_message(from, *uid)?
                } else {
                    changes.message(from, *uid)?
                };
                if let Some(m) = found {
                    let new = changes.add_message(to, &m.flags, m.size, m.internal_date, m.blob)?;
                    pairs.push((*uid, new));
                }
            }
            let modseq = changes.modseq(from)?;
            Ok(((pairs, modseq), changes.finish(self.blobs())?))
        })?;
        self.collect_after_commit(&zeroed);
        Ok(out)
    }

    /// Forget the oldest expunged UIDs once a folder remembers more than the limit (plus 1%
    /// slack, so the scan runs once per many expunges). Whole expunges are dropped, oldest
    /// first; the horizon moves to the newest dropped modseq. Failures are logged: the history
    /// is then only longer than it needs to be.
    pub(crate) fn trim_expunged(&self, folder: FolderId) {
        if let Err(e) = self.try_trim_expunged(folder) {
            tracing::warn!(folder, error = %e, "cannot trim the expunge history");
        }
    }

    fn try_trim_expunged(&self, folder: FolderId) -> Result<(), StorageError> {
        let keep = self.expunged_keep();
        let f = self.load_folder(folder)?;
        if f.ext.expunged <= keep.saturating_add(keep / 100) {
            return Ok(());
        }
        let mut entries = Vec::new();
        for entry in self
            .tree(TreeIx::Expunged)
            .scan_prefix(folder.to_be_bytes())
        {
            let (k, v) = entry?;
            entries.push((
                keys::decode_u64(&v, "expunge modseq")?,
                keys::uid_of_message_key(&k)?,
            ));
        }
        let excess = entries.len().saturating_sub(keep as usize);
        if excess == 0 {
            return Ok(());
        }
        entries.sort_unstable();
        let Some(&(cutoff, _)) = entries.get(excess - 1) else {
            return Ok(());
        };
        let drop: Vec<u32> = entries
            .iter()
            .take_while(|(modseq, _)| *modseq <= cutoff)
            .map(|(_, uid)| *uid)
            .collect();
        self.transact(|tx| {
            let mut f = tx_load_folder(tx, folder)?;
            let mut removed = 0u32;
            for uid in &drop {
                if tx
                    .tree(TreeIx::Expunged)
                    .remove(&message_key(folder, *uid))?
                    .is_some()
                {
                    removed += 1;
                }
            }
            f.ext.expunged = f.ext.expunged.saturating_sub(removed);
            f.ext.vanished_horizon = f.ext.vanished_horizon.max(cutoff);
            tx_save_folder(tx, folder, &mut f)
        })
    }
}

impl SledStore {
    pub(crate) fn store_flags(
        &self,
        folder: FolderId,
        uids: &[u32],
        mode: FlagMode,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<StoreResult, StorageError> {
        let flags = flags.normalized()?;
        let mut uids = distinct(uids);
        uids.sort_unstable();
        let (result, _) = self.transact(|tx| {
            let mut changes = Changes::new(tx);
            changes.folder(folder)?;
            let mut result =
                tx_store_flags(&mut changes, folder, &uids, mode, &flags, unchanged_since)?;
            result.highest_modseq = changes.modseq(folder)?;
            Ok((result, changes.finish(self.blobs())?))
        })?;
        Ok(result)
    }

    pub(crate) fn update_maildrop(
        &self,
        folder: FolderId,
        seen: &[u32],
        deleted: &[u32],
        between: impl Fn() -> Result<(), StorageError>,
    ) -> Result<(StoreResult, u64), StorageError> {
        let seen_flag = Flags::system(Flags::SEEN);
        let mut seen = distinct(seen);
        seen.sort_unstable();
        let (out, zeroed) = self.transact(|tx| {
            let mut changes = Changes::new(tx);
            changes.folder(folder)?;
            let mut result =
                tx_store_flags(&mut changes, folder, &seen, FlagMode::Add, &seen_flag, None)?;
            if let Err(e) = between() {
                return abort(e);
            }
            for uid in deleted {
                changes.remove_message(folder, *uid)?;
            }
            result.highest_modseq = changes.modseq(folder)?;
            let expunged = changes.folder(folder)?.rec.highest_modseq;
            Ok(((result, expunged), changes.finish(self.blobs())?))
        })?;
        self.collect_blobs(&zeroed);
        if !deleted.is_empty() {
            self.trim_expunged(folder);
        }
        Ok(out)
    }

    pub(crate) fn append_messages(
        &self,
        folder: FolderId,
        msgs: &[NewMessage],
    ) -> Result<(Vec<u32>, u64), StorageError> {
        let flags = msgs
            .iter()
            .map(|m| m.flags.normalized())
            .collect::<Result<Vec<_>, _>>()?;
        let (out, zeroed) = self.transact(|tx| {
            let mut changes = Changes::new(tx);
            changes.folder(folder)?;
            let mut uids = Vec::with_capacity(msgs.len());
            for (m, flags) in msgs.iter().zip(&flags) {
                uids.push(changes.add_message(folder, flags, m.size, m.internal_date, m.blob)?);
            }
            let modseq = changes.modseq(folder)?;
            Ok(((uids, modseq), changes.finish(self.blobs())?))
        })?;
        self.collect_after_commit(&zeroed);
        Ok(out)
    }

    pub(crate) fn copy_messages(
        &self,
        from: FolderId,
        uids: &[u32],
        to: FolderId,
    ) -> Result<Vec<(u32, u32)>, StorageError> {
        self.transfer(from, uids, to, false).map(|(pairs, _)| pairs)
    }

    pub(crate) fn move_messages(
        &self,
        from: FolderId,
        uids: &[u32],
        to: FolderId,
    ) -> Result<(Vec<(u32, u32)>, u64), StorageError> {
        let out = self.transfer(from, uids, to, true)?;
        self.trim_expunged(from);
        Ok(out)
    }

    pub(crate) fn replace_message(
        &self,
        from: FolderId,
        uid: u32,
        to: FolderId,
        msg: &NewMessage,
    ) -> Result<(u32, u64, u64), StorageError> {
        let flags = msg.flags.normalized()?;
        let (out, zeroed) = self.transact(|tx| {
            let mut changes = Changes::new(tx);
            changes.folder(from)?;
            changes.folder(to)?;
            if changes.remove_message(from, uid)?.is_none() {
                return super::abort(StorageError::NotFound(format!(
                    "message uid {uid} in folder {from}"
                )));
            }
            let new = changes.add_message(to, &flags, msg.size, msg.internal_date, msg.blob)?;
            let expunged = changes.modseq(from)?;
            let added = changes.modseq(to)?;
            Ok(((new, expunged, added), changes.finish(self.blobs())?))
        })?;
        self.collect_after_commit(&zeroed);
        self.trim_expunged(from);
        Ok(out)
    }

    pub(crate) fn claim_recent(&self, folder: FolderId) -> Result<u32, StorageError> {
        self.transact(|tx| {
            let mut f = tx_load_folder(tx, folder)?;
            let first = f.ext.recent_from;
            f.ext.recent_from = f.rec.uidnext;
            tx_save_folder(tx, folder, &mut f)?;
            Ok(first)
        })
    }
}

impl SledStore {
    pub(crate) fn recent_count(&self, folder: FolderId) -> Result<u32, StorageError> {
        let f = self.load_folder(folder)?;
        let range = message_key(folder, f.ext.recent_from)..=message_key(folder, u32::MAX);
        let n = self.tree(TreeIx::Messages).range(range).keys().count();
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    pub(crate) fn message_count(&self, folder: FolderId) -> Result<u32, StorageError> {
        Ok(self.load_folder(folder)?.rec.exists)
    }

    pub(crate) fn uid_list(&self, folder: FolderId) -> Result<Vec<u32>, StorageError> {
        self.load_folder(folder)?;
        self.tree(TreeIx::Messages)
            .scan_prefix(folder.to_be_bytes())
            .keys()
            .map(|k| keys::uid_of_message_key(&k?))
            .collect()
    }

    pub(crate) fn folder_keywords(&self, folder: FolderId) -> Result<Vec<String>, StorageError> {
        Ok(self.load_folder(folder)?.ext.keywords)
    }

    pub(crate) fn vanished_horizon(&self, folder: FolderId) -> Result<u64, StorageError> {
        Ok(self.load_folder(folder)?.ext.vanished_horizon)
    }
}
