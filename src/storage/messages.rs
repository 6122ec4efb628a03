//! Message operations IMAP needs beyond append/set_flags/expunge: bulk STORE with CONDSTORE
//! (RFC 7162 §3.1.3), COPY and MOVE with UIDPLUS results (RFC 4315, RFC 6851), MULTIAPPEND
//! (RFC 3502), \Recent (RFC 3501 §2.3.2), O(1) counts, keywords, and the bounded expunge
//! history behind QRESYNC VANISHED (RFC 7162 §3.2.5.2).
//!
//! Each operation is one transaction through [`Changes`], which keeps counters, quota and blob
//! references in step.

use std::collections::HashSet;

use super::changes::Changes;
use super::folders::{tx_load_folder, tx_save_folder, Flags, FolderId, NewMessage};
use super::keys::{self, message_key, TreeIx};
use super::{abort, StorageError, Store, TxResult};

/// How STORE combines the given flags with a message's (RFC 9051 §6.4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagMode {
    /// FLAGS: set exactly these.
    Replace,
    /// +FLAGS
    Add,
    /// -FLAGS
    Remove,
}

/// What a STORE did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreResult {
    /// Messages whose flags changed: uid, new flags, new modseq (ascending uid).
    pub changed: Vec<(u32, Flags, u64)>,
    /// UIDs left alone because their modseq was above UNCHANGEDSINCE (the MODIFIED response
    /// code of RFC 7162 §3.1.3), ascending.
    pub modified: Vec<u32>,
    /// The folder's highest modseq after the operation.
    pub highest_modseq: u64,
}

/// `flags` combined into `old` by `mode`.
fn combine(old: &Flags, mode: FlagMode, flags: &Flags) -> Flags {
    match mode {
        FlagMode::Replace => flags.clone(),
        FlagMode::Add => {
            let mut out = old.clone();
            out.system |= flags.system;
            for k in &flags.keywords {
                out.add_keyword(k);
            }
            out
        }
        FlagMode::Remove => {
            let mut out = old.clone();
            out.system &= !flags.system;
            for k in &flags.keywords {
                out.remove_keyword(k);
            }
            out
        }
    }
}

/// Same system flags and the same keywords in any order and case.
fn same_flags(a: &Flags, b: &Flags) -> bool {
    a.system == b.system
        && a.keywords.len() == b.keywords.len()
        && a.keywords.iter().all(|k| b.has_keyword(k))
}

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

fn distinct(uids: &[u32]) -> Vec<u32> {
    let mut seen = HashSet::new();
    uids.iter().copied().filter(|u| seen.insert(*u)).collect()
}

impl Store {
    /// STORE on many messages in one transaction. Messages whose flags actually change get the
    /// operation's one new modseq; with `unchanged_since`, messages whose modseq is above it
    /// are left alone and reported in `modified`. Missing UIDs are ignored.
    pub fn store_flags(
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

    /// POP3's UPDATE state (RFC 1939 §6): `\Seen` on the retrieved messages and the expunge
    /// of the deleted ones, in ONE transaction, so that a failure leaves the maildrop as it
    /// was instead of flagged but not expunged. `between` runs inside the transaction after
    /// the flags and before the expunge; an error from it aborts both (fault injection).
    /// Returns the flag changes and the modseq of the expunge.
    pub fn update_maildrop(
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

    /// MULTIAPPEND (RFC 3502): append every message in one transaction, all or none. Returns
    /// their UIDs in order and the folder's new highest modseq.
    pub fn append_messages(
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

    /// COPY (with UIDPLUS COPYUID): copy the listed messages of `from` to `to` in one
    /// transaction, keeping flags and internal date and adding a blob reference each. Returns
    /// (source uid, new uid) in the order given; missing UIDs are skipped. OverQuota if the
    /// owner of `to` would pass a limit; Invalid if `to` is `\Noselect`.
    pub fn copy_messages(
        &self,
        from: FolderId,
        uids: &[u32],
        to: FolderId,
    ) -> Result<Vec<(u32, u32)>, StorageError> {
        self.transfer(from, uids, to, false).map(|(pairs, _)| pairs)
    }

    /// MOVE (RFC 6851): copy and expunge from `from` in ONE transaction, so a failure (quota,
    /// `\Noselect` target, missing folder) leaves both folders as they were. Returns the uid
    /// pairs as [`Store::copy_messages`] and the modseq of the expunge in `from` (its highest
    /// modseq, unchanged if nothing moved).
    pub fn move_messages(
        &self,
        from: FolderId,
        uids: &[u32],
        to: FolderId,
    ) -> Result<(Vec<(u32, u32)>, u64), StorageError> {
        let out = self.transfer(from, uids, to, true)?;
        self.trim_expunged(from);
        Ok(out)
    }

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

    /// REPLACE (RFC 8508): expunge message `uid` of `from` and append `msg` to `to` in ONE
    /// transaction, the expunge first so that quota counts only the net change (§3.4).
    /// NotFound if `uid` is not in `from` (nothing changes). Returns the new UID, the
    /// modseq of the expunge in `from` and the highest modseq of `to`.
    pub fn replace_message(
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

    /// Claim the folder's \Recent messages (RFC 3501 §2.3.2): returns the first recent UID and
    /// moves the watermark to UIDNEXT, atomically, so only one session sees each message as
    /// recent. Messages with uid >= the returned value are \Recent for the claiming session.
    pub fn claim_recent(&self, folder: FolderId) -> Result<u32, StorageError> {
        self.transact(|tx| {
            let mut f = tx_load_folder(tx, folder)?;
            let first = f.ext.recent_from;
            f.ext.recent_from = f.rec.uidnext;
            tx_save_folder(tx, folder, &mut f)?;
            Ok(first)
        })
    }

    /// STATUS RECENT without claiming: the messages at or above the watermark (a key-only range
    /// scan over just those, so expunged UIDs do not count).
    pub fn recent_count(&self, folder: FolderId) -> Result<u32, StorageError> {
        let f = self.load_folder(folder)?;
        let range = message_key(folder, f.ext.recent_from)..=message_key(folder, u32::MAX);
        let n = self.tree(TreeIx::Messages).range(range).keys().count();
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// The number of messages (O(1): the kept `exists` counter).
    pub fn message_count(&self, folder: FolderId) -> Result<u32, StorageError> {
        Ok(self.load_folder(folder)?.rec.exists)
    }

    /// The UIDs of a folder, ascending (keys only; no record is decoded).
    pub fn uid_list(&self, folder: FolderId) -> Result<Vec<u32>, StorageError> {
        self.load_folder(folder)?;
        self.tree(TreeIx::Messages)
            .scan_prefix(folder.to_be_bytes())
            .keys()
            .map(|k| keys::uid_of_message_key(&k?))
            .collect()
    }

    /// Keywords ever used in the folder, in order of first use (for FLAGS/PERMANENTFLAGS).
    pub fn folder_keywords(&self, folder: FolderId) -> Result<Vec<String>, StorageError> {
        Ok(self.load_folder(folder)?.ext.keywords)
    }

    /// [`Store::expunged_since`]`(folder, m)` is exact for every `m >=` this value; below it,
    /// older expunges have been forgotten (the folder keeps the last 100,000) and a QRESYNC
    /// client must be answered another way (RFC 7162 §3.2.5.2). 0 while nothing was forgotten.
    pub fn vanished_horizon(&self, folder: FolderId) -> Result<u64, StorageError> {
        Ok(self.load_folder(folder)?.ext.vanished_horizon)
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
