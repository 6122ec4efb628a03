//! Message reads and writes of the PostgreSQL backend, with the embedded backend's behaviour
//! method by method (see `storage::traits::{Folders, FolderWrites}` and the sled backend's
//! `messages.rs` and `folders.rs`): append (one, several, or one consuming a queue
//! recipient), flags, STORE with CONDSTORE, expunge, POP3's update, COPY, MOVE, REPLACE,
//! \Recent, and the reads IMAP needs (lists, ranges, counts, keywords, changes since a
//! modseq, the expunge history behind QRESYNC).
//!
//! Each write is one transaction through [`Changes`], which locks the folder rows first and
//! keeps counters, quota, blob references, the expunge history and the notification of the
//! other nodes in step with the messages. Reads select by key or key range only.

use std::collections::BTreeMap;

use super::changes::{message_record, to_i64, Changes, MESSAGE_COLUMNS};
use super::folders::{db_id, u32_of, u64_of};
use super::pool::{pg_error, Db};
use super::PgStore;
use crate::storage::folders::{folder_not_found, Flags, FolderId, MessageRecord, NewMessage};
use crate::storage::messages::{combine, distinct, same_flags, FlagMode, StoreResult};
use crate::storage::{QueueId, QueueName, QueueRecord, StorageError};

/// STORE's flag changes on `uids` (sorted, distinct) inside a transaction.
fn store_in(
    changes: &mut Changes<'_, '_>,
    folder: FolderId,
    uids: &[u32],
    mode: FlagMode,
    flags: &Flags,
    unchanged_since: Option<u64>,
) -> Result<StoreResult, StorageError> {
    let mut result = StoreResult::default();
    let found = changes.messages(folder, uids)?;
    for mut m in found.into_values() {
        if unchanged_since.is_some_and(|since| m.modseq > since) {
            result.modified.push(m.uid);
            continue;
        }
        let new = combine(&m.flags, mode, flags);
        if same_flags(&new, &m.flags) {
            continue;
        }
        let modseq = changes.set_flags(folder, &mut m, new)?;
        result.changed.push((m.uid, m.flags, modseq));
    }
    result.highest_modseq = changes.modseq(folder)?;
    Ok(result)
}

/// The listed messages of `folder` that exist, in UID order.
fn present(
    changes: &mut Changes<'_, '_>,
    folder: FolderId,
    uids: &[u32],
) -> Result<Vec<MessageRecord>, StorageError> {
    Ok(changes.messages(folder, uids)?.into_values().collect())
}

impl PgStore {
    /// Runs `f` on the locked rows of `folders` in one transaction, then [`Changes::finish`],
    /// and after the commit hands the blobs that lost their last reference to the collector.
    fn change<T: Send>(
        &self,
        folders: &[FolderId],
        mut f: impl FnMut(&mut Changes<'_, '_>) -> Result<T, StorageError> + Send,
    ) -> Result<T, StorageError> {
        let (out, zeroed) = self.pool().tx(|tx| {
            let mut changes = Changes::lock(tx, folders)?;
            let out = f(&mut changes)?;
            Ok((out, changes.finish(self)?))
        })?;
        self.collect_after_commit(&zeroed);
        Ok(out)
    }

    pub(crate) fn append_message(
        &self,
        folder: FolderId,
        msg: NewMessage,
        consume: Option<(QueueName, QueueId, usize)>,
        seen: Option<&QueueRecord>,
    ) -> Result<(u32, u64), StorageError> {
        let flags = msg.flags.normalized()?;
        if flags.keywords.is_empty() {
            // One round trip for the append itself (`append.rs`).
            let appended = self.append_one_call(folder, &msg, &flags, consume, seen);
            if let Err(StorageError::NotFound(_)) = &appended {
                // A folder id cached for delivery may be stale: look it up afresh next time.
                self.dir_cache().forget_folder(folder);
            }
            return appended;
        }
        self.change(&[folder], |changes| {
            let uid = changes.add_message(folder, &flags, msg.size, msg.internal_date, msg.blob)?;
            if let Some((queue, id, rcpt)) = consume {
                let (tx, refs) = changes.tx_and_refs();
                super::queue::consume_recipient_tx(tx, queue, id, rcpt, refs)?;
            }
            Ok((uid, changes.modseq(folder)?))
        })
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
        self.change(&[folder], |changes| {
            let mut uids = Vec::with_capacity(msgs.len());
            for (m, flags) in msgs.iter().zip(&flags) {
                uids.push(changes.add_message(folder, flags, m.size, m.internal_date, m.blob)?);
            }
            Ok((uids, changes.modseq(folder)?))
        })
    }

    pub(crate) fn set_flags(
        &self,
        folder: FolderId,
        uid: u32,
        flags: Flags,
    ) -> Result<u64, StorageError> {
        let flags = flags.normalized()?;
        self.change(&[folder], |changes| {
            let Some(mut m) = changes.messages(folder, &[uid])?.remove(&uid) else {
                return Err(StorageError::NotFound(format!(
                    "message uid {uid} in folder {folder}"
                )));
            };
            if m.flags == flags {
                return Ok(m.modseq);
            }
            changes.set_flags(folder, &mut m, flags.clone())
        })
    }

    pub(crate) fn expunge(&self, folder: FolderId, uids: &[u32]) -> Result<u64, StorageError> {
        let uids = distinct(uids);
        self.change(&[folder], |changes| {
            let gone = present(changes, folder, &uids)?;
            changes.remove_messages(folder, &gone)?;
            changes.modseq(folder)
        })
    }

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
        self.change(&[folder], |changes| {
            store_in(changes, folder, &uids, mode, &flags, unchanged_since)
        })
    }

    /// POP3's UPDATE in one transaction. `between` is a plain `&dyn Fn` (not `Sync`), which
    /// cannot go to the thread a transaction may run on, so it is called once, just before
    /// the transaction; the transaction then sets the flags and, if `between` failed,
    /// returns its error there — before the expunge — which rolls back the flags as well.
    /// The maildrop is left untouched on its error exactly as when it runs inside, and a
    /// transaction retried after a deadlock does not call it twice. (A failure before the
    /// flags, such as a missing folder, still wins: its error is the one returned.)
    pub(crate) fn update_maildrop(
        &self,
        folder: FolderId,
        seen: &[u32],
        deleted: &[u32],
        between: &dyn Fn() -> Result<(), StorageError>,
    ) -> Result<(StoreResult, u64), StorageError> {
        let seen_flag = Flags::system(Flags::SEEN);
        let mut seen = distinct(seen);
        seen.sort_unstable();
        let deleted = distinct(deleted);
        let mut between_failed = between().err();
        self.change(&[folder], |changes| {
            let result = store_in(changes, folder, &seen, FlagMode::Add, &seen_flag, None)?;
            if let Some(e) = between_failed.take() {
                return Err(e);
            }
            let gone = present(changes, folder, &deleted)?;
            changes.remove_messages(folder, &gone)?;
            let expunged = changes.modseq(folder)?;
            Ok((
                StoreResult {
                    highest_modseq: expunged,
                    ..result
                },
                expunged,
            ))
        })
    }

    /// COPY (`remove` false) or MOVE of the listed messages, in one transaction. Returns
    /// the (source, new) UID pairs in the order given and the modseq of `from`.
    fn transfer(
        &self,
        from: FolderId,
        uids: &[u32],
        to: FolderId,
        remove: bool,
    ) -> Result<(Vec<(u32, u32)>, u64), StorageError> {
        let uids = distinct(uids);
        self.change(&[from, to], |changes| {
            let found: BTreeMap<u32, MessageRecord> = changes.messages(from, &uids)?;
            let mut pairs = Vec::with_capacity(found.len());
            for uid in &uids {
                if let Some(m) = found.get(uid) {
                    let new = changes.add_message(to, &m.flags, m.size, m.internal_date, m.blob)?;
                    pairs.push((*uid, new));
                }
            }
            if remove {
                let moved: Vec<MessageRecord> = found.into_values().collect();
                changes.remove_messages(from, &moved)?;
            }
            Ok((pairs, changes.modseq(from)?))
        })
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
        self.transfer(from, uids, to, true)
    }

    pub(crate) fn replace_message(
        &self,
        from: FolderId,
        uid: u32,
        to: FolderId,
        msg: &NewMessage,
    ) -> Result<(u32, u64, u64), StorageError> {
        let flags = msg.flags.normalized()?;
        self.change(&[from, to], |changes| {
            let old = present(changes, from, &[uid])?;
            if old.is_empty() {
                return Err(StorageError::NotFound(format!(
                    "message uid {uid} in folder {from}"
                )));
            }
            // The expunge first, so that quota counts only the net change (RFC 8508 §3.4).
            changes.remove_messages(from, &old)?;
            let new = changes.add_message(to, &flags, msg.size, msg.internal_date, msg.blob)?;
            Ok((new, changes.modseq(from)?, changes.modseq(to)?))
        })
    }

    /// Moves the \Recent watermark to UIDNEXT under the folder's row lock. Not a change of
    /// the folder's messages, flags or modseq, so nothing is notified.
    pub(crate) fn claim_recent(&self, folder: FolderId) -> Result<u32, StorageError> {
        let key = db_id(folder)?;
        self.pool().tx(|tx| {
            let row = tx
                .query_opt(
                    "SELECT recent_from FROM folders WHERE id = $1 FOR UPDATE",
                    &[&key],
                )
                .map_err(pg_error)?
                .ok_or_else(|| folder_not_found(folder))?;
            let first = u32_of(&row, "recent_from")?;
            tx.execute(
                "UPDATE folders SET recent_from = uidnext WHERE id = $1",
                &[&key],
            )
            .map_err(pg_error)?;
            Ok(first)
        })
    }
}

/// Columns of folder `id`'s row (NotFound when there is none).
fn folder_row(c: &mut impl Db, id: FolderId, columns: &str) -> Result<postgres::Row, StorageError> {
    c.query_opt(
        &format!("SELECT {columns} FROM folders WHERE id = $1"),
        &[&db_id(id)?],
    )
    .map_err(pg_error)?
    .ok_or_else(|| folder_not_found(id))
}

/// The messages of `folder` matched by `condition` (on `$2`), in UID order.
fn select_messages(
    c: &mut impl Db,
    folder: FolderId,
    condition: &str,
    arg: i64,
) -> Result<Vec<MessageRecord>, StorageError> {
    c.query(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE folder = $1 AND {condition}
             ORDER BY uid"
        ),
        &[&db_id(folder)?, &arg],
    )
    .map_err(pg_error)?
    .iter()
    .map(message_record)
    .collect()
}

impl PgStore {
    pub(crate) fn list_messages(
        &self,
        folder: FolderId,
    ) -> Result<Vec<MessageRecord>, StorageError> {
        self.pool().with(|c| {
            folder_row(c, folder, "id")?;
            select_messages(c, folder, "uid >= $2", 0)
        })
    }

    pub(crate) fn messages_from(
        &self,
        folder: FolderId,
        first_uid: u32,
    ) -> Result<Vec<MessageRecord>, StorageError> {
        self.pool()
            .with(|c| select_messages(c, folder, "uid >= $2", i64::from(first_uid)))
    }

    pub(crate) fn get_message(
        &self,
        folder: FolderId,
        uid: u32,
    ) -> Result<Option<MessageRecord>, StorageError> {
        self.pool().with(|c| {
            let mut found = select_messages(c, folder, "uid = $2", i64::from(uid))?;
            Ok(found.pop())
        })
    }

    /// The listed messages that exist, in UID order: one statement for them all.
    pub(crate) fn get_messages(
        &self,
        folder: FolderId,
        uids: &[u32],
    ) -> Result<Vec<MessageRecord>, StorageError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let uids: Vec<i64> = uids.iter().map(|u| i64::from(*u)).collect();
        self.pool().with(|c| {
            c.query(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE folder = $1 AND uid = ANY($2)
                     ORDER BY uid"
                ),
                &[&db_id(folder)?, &uids],
            )
            .map_err(pg_error)?
            .iter()
            .map(message_record)
            .collect()
        })
    }

    pub(crate) fn changed_since(
        &self,
        folder: FolderId,
        modseq: u64,
    ) -> Result<Vec<MessageRecord>, StorageError> {
        let modseq = to_i64(modseq, "modseq")?;
        self.pool().with(|c| {
            folder_row(c, folder, "id")?;
            select_messages(c, folder, "modseq > $2", modseq)
        })
    }

    pub(crate) fn expunged_since(
        &self,
        folder: FolderId,
        modseq: u64,
    ) -> Result<Vec<u32>, StorageError> {
        let modseq = to_i64(modseq, "modseq")?;
        self.pool().with(|c| {
            c.query(
                "SELECT uid FROM expunged WHERE folder = $1 AND modseq > $2 ORDER BY uid",
                &[&db_id(folder)?, &modseq],
            )
            .map_err(pg_error)?
            .iter()
            .map(|r| u32_of(r, "uid"))
            .collect()
        })
    }

    pub(crate) fn recent_count(&self, folder: FolderId) -> Result<u32, StorageError> {
        self.pool().with(|c| {
            let from: i64 = folder_row(c, folder, "recent_from")?.get("recent_from");
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM messages WHERE folder = $1 AND uid >= $2",
                    &[&db_id(folder)?, &from],
                )
                .map_err(pg_error)?
                .get(0);
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        })
    }

    pub(crate) fn message_count(&self, folder: FolderId) -> Result<u32, StorageError> {
        self.pool()
            .with(|c| u32_of(&folder_row(c, folder, "exists_count")?, "exists_count"))
    }

    pub(crate) fn uid_list(&self, folder: FolderId) -> Result<Vec<u32>, StorageError> {
        self.pool().with(|c| {
            folder_row(c, folder, "id")?;
            c.query(
                "SELECT uid FROM messages WHERE folder = $1 ORDER BY uid",
                &[&db_id(folder)?],
            )
            .map_err(pg_error)?
            .iter()
            .map(|r| u32_of(r, "uid"))
            .collect()
        })
    }

    pub(crate) fn folder_keywords(&self, folder: FolderId) -> Result<Vec<String>, StorageError> {
        self.pool()
            .with(|c| Ok(folder_row(c, folder, "keywords")?.get("keywords")))
    }

    pub(crate) fn vanished_horizon(&self, folder: FolderId) -> Result<u64, StorageError> {
        self.pool().with(|c| {
            u64_of(
                &folder_row(c, folder, "vanished_horizon")?,
                "vanished_horizon",
            )
        })
    }
}

#[cfg(test)]
#[path = "messages_tests.rs"]
mod tests;
