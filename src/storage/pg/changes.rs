//! The bookkeeping every message change shares, as the embedded backend's `Changes` does, so
//! that no operation can forget a counter: [`Changes`] adds, removes and re-flags messages
//! inside one transaction and keeps, in step with them, each folder's UIDNEXT, modseq,
//! `exists`, unseen/deleted/size counters, keywords and expunge history (trimmed to
//! [`PgStore::expunged_keep`]), the blob reference counts and the owners' quota usage
//! (charged at [`Changes::finish`] by `quota::tx_add_usage`, which refuses what passes a
//! limit), and notifies the other nodes.
//!
//! Locks: [`Changes::lock`] takes every folder row the operation touches at once, in id
//! order (`FOR UPDATE`), before anything else; then the quota rows (by owner), then the blob
//! advisory locks (by blob id, in `RefDelta::apply`). Every message write takes them in
//! this order, so two of them never wait on each other in a cycle, and UIDs and modseqs
//! come from the locked row, so they stay strictly increasing whichever node writes.
//!
//! Every statement selects by key or key range (`(folder, uid)`, `(folder, modseq)`): a
//! change to one message of a 100,000-message folder reads that message only.

use std::collections::{BTreeMap, BTreeSet};

use postgres::Row;

use super::blobrefs::RefDelta;
use super::folders::{blob_of, db_id, u32_of, u64_of};
use super::pool::{pg_error, Db, Tx};
use super::quota::tx_add_usage;
use super::PgStore;
use crate::storage::blobs::BlobId;
use crate::storage::folders::{
    count_message, folder_not_found, note_keywords, too_many_keywords, Flags, FolderId,
    MessageRecord,
};
use crate::storage::StorageError;

/// The columns [`message_record`] reads, in its order.
pub(crate) const MESSAGE_COLUMNS: &str =
    "uid, modseq, system_flags, keywords, size, internal_date, save_date, blob";

/// A row of [`MESSAGE_COLUMNS`] as a message record.
pub(crate) fn message_record(row: &Row) -> Result<MessageRecord, StorageError> {
    let system: i16 = row.get("system_flags");
    Ok(MessageRecord {
        uid: u32_of(row, "uid")?,
        modseq: u64_of(row, "modseq")?,
        flags: Flags {
            system: u8::try_from(system)
                .map_err(|_| StorageError::Encoding(format!("system flags {system}")))?,
            keywords: row.get("keywords"),
        },
        size: u64_of(row, "size")?,
        internal_date: row.get("internal_date"),
        save_date: row.get("save_date"),
        blob: blob_of(row.get("blob"))?,
    })
}

/// A u64 as a bigint (modseqs, sizes and ids stay far below 2^63).
pub(crate) fn to_i64(v: u64, what: &str) -> Result<i64, StorageError> {
    i64::try_from(v).map_err(|_| StorageError::Invalid(format!("{what} {v} out of range")))
}

/// A folder row as one operation holds it (locked until the transaction ends).
pub(crate) struct LockedFolder {
    pub(crate) account: String,
    pub(crate) name: String,
    pub(crate) uidnext: u32,
    pub(crate) highest_modseq: u64,
    exists: u32,
    unseen: u32,
    deleted: u32,
    size: u64,
    noselect: bool,
    keywords: Vec<String>,
    expunged: u64,
    vanished_horizon: u64,
}

impl LockedFolder {
    fn from_row(row: &Row) -> Result<(FolderId, LockedFolder), StorageError> {
        Ok((
            u64_of(row, "id")?,
            LockedFolder {
                account: row.get("account"),
                name: row.get("name"),
                uidnext: u32_of(row, "uidnext")?,
                highest_modseq: u64_of(row, "highest_modseq")?,
                exists: u32_of(row, "exists_count")?,
                unseen: u32_of(row, "unseen")?,
                deleted: u32_of(row, "deleted")?,
                size: u64_of(row, "size")?,
                noselect: row.get("noselect"),
                keywords: row.get("keywords"),
                expunged: u64_of(row, "expunged_count")?,
                vanished_horizon: u64_of(row, "vanished_horizon")?,
            },
        ))
    }

    /// Count a message in (`add`) or out of the unseen/deleted/size counters.
    fn count(&mut self, flags: &Flags, size: u64, add: bool) {
        count_message(
            (&mut self.unseen, &mut self.deleted, &mut self.size),
            flags,
            size,
            add,
        );
    }

    fn note_keywords(&mut self, flags: &Flags) -> Result<(), StorageError> {
        if note_keywords(&mut self.keywords, flags) {
            Ok(())
        } else {
            Err(too_many_keywords(&self.name))
        }
    }
}

/// The changes of one operation inside one transaction. Every folder touched gets one new
/// modseq for the whole operation (RFC 7162 allows equal modseqs within one command).
pub(crate) struct Changes<'a, 't> {
    tx: &'a mut Tx<'t>,
    folders: BTreeMap<FolderId, LockedFolder>,
    /// The folders changed so far (their modseq was bumped once).
    bumped: BTreeSet<FolderId>,
    /// The folders messages were removed from (their expunge history may need trimming).
    expunged_from: BTreeSet<FolderId>,
    refs: RefDelta,
    /// Per owner: (bytes, messages) added (negative: removed).
    usage: BTreeMap<String, (i64, i64)>,
    now: i64,
}

impl<'a, 't> Changes<'a, 't> {
    /// Locks the rows of `ids` (in id order, whatever the order given) for this
    /// transaction. NotFound for the first of `ids` that does not exist.
    pub(crate) fn lock(
        tx: &'a mut Tx<'t>,
        ids: &[FolderId],
    ) -> Result<Changes<'a, 't>, StorageError> {
        let wanted = ids
            .iter()
            .map(|id| db_id(*id))
            .collect::<Result<BTreeSet<i64>, _>>()?;
        let wanted: Vec<i64> = wanted.into_iter().collect();
        let rows = tx
            .query(
                "SELECT id, account, name, uidnext, highest_modseq, exists_count, unseen,
                        deleted, size, noselect, keywords, expunged_count, vanished_horizon
                 FROM folders WHERE id = ANY($1) ORDER BY id FOR UPDATE",
                &[&wanted],
            )
            .map_err(pg_error)?;
        let mut folders = BTreeMap::new();
        for row in &rows {
            let (id, folder) = LockedFolder::from_row(row)?;
            folders.insert(id, folder);
        }
        if let Some(missing) = ids.iter().find(|id| !folders.contains_key(id)) {
            return Err(folder_not_found(*missing));
        }
        Ok(Changes {
            tx,
            folders,
            bumped: BTreeSet::new(),
            expunged_from: BTreeSet::new(),
            refs: RefDelta::default(),
            usage: BTreeMap::new(),
            now: i64::try_from(crate::storage::now_secs()).unwrap_or(i64::MAX),
        })
    }

    /// The transaction, for writes made beside the messages (a queue recipient consumed).
    pub(crate) fn tx_and_refs(&mut self) -> (&mut Tx<'t>, &mut RefDelta) {
        (&mut *self.tx, &mut self.refs)
    }

    /// A locked folder (NotFound if it was not locked by [`Changes::lock`]).
    pub(crate) fn folder(&self, id: FolderId) -> Result<&LockedFolder, StorageError> {
        self.folders.get(&id).ok_or_else(|| folder_not_found(id))
    }

    fn folder_mut(&mut self, id: FolderId) -> Result<&mut LockedFolder, StorageError> {
        self.folders
            .get_mut(&id)
            .ok_or_else(|| folder_not_found(id))
    }

    /// The folder's modseq for this operation: the new one if a change bumped it, else its
    /// current highest modseq.
    pub(crate) fn modseq(&self, id: FolderId) -> Result<u64, StorageError> {
        Ok(self.folder(id)?.highest_modseq)
    }

    fn bump(&mut self, id: FolderId) -> Result<u64, StorageError> {
        let first = self.bumped.insert(id);
        let folder = self.folder_mut(id)?;
        if first {
            folder.highest_modseq += 1;
        }
        Ok(folder.highest_modseq)
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

    /// The messages of `folder` among `uids` (absent ones are left out), by UID: one
    /// primary-key lookup per UID.
    pub(crate) fn messages(
        &mut self,
        folder: FolderId,
        uids: &[u32],
    ) -> Result<BTreeMap<u32, MessageRecord>, StorageError> {
        let uids: Vec<i64> = uids.iter().map(|u| i64::from(*u)).collect();
        let rows = self
            .tx
            .query(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE folder = $1 AND uid = ANY($2)"
                ),
                &[&db_id(folder)?, &uids],
            )
            .map_err(pg_error)?;
        let mut out = BTreeMap::new();
        for row in &rows {
            let m = message_record(row)?;
            out.insert(m.uid, m);
        }
        Ok(out)
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
    ) -> Result<u32, StorageError> {
        let folder = self.folder(id)?;
        if folder.noselect {
            return Err(StorageError::Invalid(format!(
                "folder {} of {} is \\Noselect",
                folder.name, folder.account
            )));
        }
        if folder.uidnext == u32::MAX {
            return Err(StorageError::Invalid(format!(
                "folder {} of {} has used up its UIDs",
                folder.name, folder.account
            )));
        }
        let modseq = self.bump(id)?;
        let folder = self.folder_mut(id)?;
        let uid = folder.uidnext;
        folder.uidnext += 1;
        folder.exists = folder.exists.saturating_add(1);
        folder.count(flags, size, true);
        folder.note_keywords(flags)?;
        let owner = folder.account.clone();
        self.tx
            .execute(
                "INSERT INTO messages (folder, uid, modseq, system_flags, keywords, size,
                                       internal_date, save_date, blob)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &db_id(id)?,
                    &i64::from(uid),
                    &to_i64(modseq, "modseq")?,
                    &i16::from(flags.system),
                    &flags.keywords,
                    &to_i64(size, "message size")?,
                    &internal_date,
                    &self.now,
                    &&blob.0[..],
                ],
            )
            .map_err(pg_error)?;
        self.refs.add(blob);
        self.add_usage(&owner, size, true);
        Ok(uid)
    }

    /// Remove `msgs` (read from `id` in this transaction), remembering their UIDs with this
    /// operation's modseq.
    pub(crate) fn remove_messages(
        &mut self,
        id: FolderId,
        msgs: &[MessageRecord],
    ) -> Result<(), StorageError> {
        if msgs.is_empty() {
            return Ok(());
        }
        let modseq = to_i64(self.bump(id)?, "modseq")?;
        let folder_key = db_id(id)?;
        let uids: Vec<i64> = msgs.iter().map(|m| i64::from(m.uid)).collect();
        self.tx
            .execute(
                "DELETE FROM messages WHERE folder = $1 AND uid = ANY($2)",
                &[&folder_key, &uids],
            )
            .map_err(pg_error)?;
        self.tx
            .execute(
                "INSERT INTO expunged (folder, uid, modseq)
                 SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u
                 ON CONFLICT (folder, uid) DO UPDATE SET modseq = EXCLUDED.modseq",
                &[&folder_key, &uids, &modseq],
            )
            .map_err(pg_error)?;
        let folder = self.folder_mut(id)?;
        for m in msgs {
            folder.exists = folder.exists.saturating_sub(1);
            folder.count(&m.flags, m.size, false);
            folder.expunged = folder.expunged.saturating_add(1);
        }
        let owner = folder.account.clone();
        for m in msgs {
            self.refs.release(m.blob);
            self.add_usage(&owner, m.size, false);
        }
        self.expunged_from.insert(id);
        Ok(())
    }

    /// Give message `m` of `id` new flags (normalised, different from the old ones) and this
    /// operation's modseq. Returns that modseq.
    pub(crate) fn set_flags(
        &mut self,
        id: FolderId,
        m: &mut MessageRecord,
        flags: Flags,
    ) -> Result<u64, StorageError> {
        let modseq = self.bump(id)?;
        let folder = self.folder_mut(id)?;
        folder.count(&m.flags, 0, false);
        folder.count(&flags, 0, true);
        folder.note_keywords(&flags)?;
        self.tx
            .execute(
                "UPDATE messages SET system_flags = $3, keywords = $4, modseq = $5
                 WHERE folder = $1 AND uid = $2",
                &[
                    &db_id(id)?,
                    &i64::from(m.uid),
                    &i16::from(flags.system),
                    &flags.keywords,
                    &to_i64(modseq, "modseq")?,
                ],
            )
            .map_err(pg_error)?;
        m.flags = flags;
        m.modseq = modseq;
        Ok(modseq)
    }

    /// Write the changed folders (trimming their expunge history), apply (and check) the
    /// quota usage and the blob references, and notify the other nodes of each changed
    /// folder (delivered at commit). Returns the blobs whose count reached 0, for
    /// [`PgStore::collect_after_commit`] once the transaction has committed.
    pub(crate) fn finish(mut self, store: &PgStore) -> Result<Vec<BlobId>, StorageError> {
        let bumped: Vec<FolderId> = self.bumped.iter().copied().collect();
        let channel = store.channel("folders");
        for id in &bumped {
            if self.expunged_from.contains(id) {
                self.trim_expunged(*id, store.expunged_keep())?;
            }
            let f = self.folder(*id)?;
            let keywords = f.keywords.clone();
            let payload = format!("{} {id} {}", store.node(), f.highest_modseq);
            // The notification of the other nodes rides on the row's update (one round trip);
            // it is delivered at commit.
            self.tx
                .execute(
                    "UPDATE folders SET uidnext = $2, highest_modseq = $3, exists_count = $4,
                            unseen = $5, deleted = $6, size = $7, keywords = $8,
                            expunged_count = $9, vanished_horizon = $10
                     WHERE id = $1
                     RETURNING pg_notify($11, $12)",
                    &[
                        &db_id(*id)?,
                        &i64::from(f.uidnext),
                        &to_i64(f.highest_modseq, "modseq")?,
                        &i64::from(f.exists),
                        &i64::from(f.unseen),
                        &i64::from(f.deleted),
                        &to_i64(f.size, "folder size")?,
                        &keywords,
                        &to_i64(f.expunged, "expunged count")?,
                        &to_i64(f.vanished_horizon, "vanished horizon")?,
                        &channel,
                        &payload,
                    ],
                )
                .map_err(pg_error)?;
        }
        let usage = std::mem::take(&mut self.usage);
        for (owner, (bytes, messages)) in &usage {
            tx_add_usage(self.tx, owner, *bytes, *messages)?;
        }
        let zeroed = self.refs.apply(self.tx, store.blobs())?;
        Ok(zeroed)
    }

    /// Forget the oldest expunged UIDs of `id` once it remembers more than `keep` (plus 1%
    /// slack, so that this runs once per many expunges), as the embedded backend does: whole
    /// expunges are dropped, oldest first, and the horizon moves to the newest dropped
    /// modseq. By the `(folder, modseq)` index; the count is taken only when trimming.
    fn trim_expunged(&mut self, id: FolderId, keep: u32) -> Result<(), StorageError> {
        let keep = u64::from(keep);
        if self.folder(id)?.expunged <= keep.saturating_add(keep / 100) {
            return Ok(());
        }
        let folder_key = db_id(id)?;
        let held = u64_of(
            &self
                .tx
                .query_one(
                    "SELECT count(*) AS held FROM expunged WHERE folder = $1",
                    &[&folder_key],
                )
                .map_err(pg_error)?,
            "held",
        )?;
        let excess = held.saturating_sub(keep);
        let mut removed = 0;
        let mut cutoff = None;
        if excess > 0 {
            let row = self
                .tx
                .query_opt(
                    "SELECT modseq FROM expunged WHERE folder = $1
                     ORDER BY modseq, uid OFFSET $2 LIMIT 1",
                    &[&folder_key, &to_i64(excess - 1, "offset")?],
                )
                .map_err(pg_error)?;
            if let Some(row) = row {
                let modseq: i64 = row.get("modseq");
                removed = self
                    .tx
                    .execute(
                        "DELETE FROM expunged WHERE folder = $1 AND modseq <= $2",
                        &[&folder_key, &modseq],
                    )
                    .map_err(pg_error)?;
                cutoff = Some(u64_of(&row, "modseq")?);
            }
        }
        let folder = self.folder_mut(id)?;
        folder.expunged = held.saturating_sub(removed);
        if let Some(cutoff) = cutoff {
            folder.vanished_horizon = folder.vanished_horizon.max(cutoff);
        }
        Ok(())
    }
}
