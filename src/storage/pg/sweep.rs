//! The start-up sweep for PostgreSQL: the embedded backend's repairs (see
//! the embedded backend's sweep and `Durability::sweep`), made safe to run while other nodes are
//! running, since every node runs it when it starts.
//!
//! - Every body file present now is synced first, as with sled.
//! - A queue record (outside the bad queue) whose body is missing or short goes to the bad
//!   queue with the reason, in a transaction that finds it still there (another node may
//!   have delivered it meanwhile). Bodies are durable before a record naming them is
//!   inserted, so a record another node is writing is never taken for damaged.
//! - A folder message whose body is missing or short gets the keyword
//!   [`DAMAGED_KEYWORD`] (through `store_flags`, so its modseq moves and other nodes hear).
//! - Reference counts are recounted from the records (queue rows and messages) in one
//!   transaction holding `blobrefs` in SHARE ROW EXCLUSIVE mode: every writer changes
//!   `blobrefs` in the transaction that adds or removes a record, so while the sweep holds
//!   the lock no record holding a body appears or goes, and a writer that was on its way
//!   applies its change to the corrected count afterwards. Each corrected count is written
//!   under the blob's advisory lock, which a writer holds from before it reads the count:
//!   one that read a wrong count just before the sweep locked the table deadlocks with the
//!   sweep instead of writing its stale sum over the fix, and the transaction PostgreSQL
//!   aborts runs again ([`super::pool::Pool::tx`] retries deadlocks).
//! - A body file with no `blobrefs` row, older than the grace period, is removed under the
//!   blob's advisory lock ([`blobrefs::collect`]), ordered against a count going 0 → 1 on
//!   any node.

use std::collections::HashSet;
use std::time::Duration;

use super::blobrefs;
use super::pool::{pg_error, Db};
use super::PgStore;
use crate::storage::sweep::{visit_blob_dirs, BodyFault, SweepSteps};
use crate::storage::{
    BlobId, BlobStore, FlagMode, Flags, StorageError, SweepReport, DAMAGED_KEYWORD,
};

fn blob_of(bytes: &[u8], what: &str) -> Result<BlobId, StorageError> {
    bytes
        .try_into()
        .map(BlobId)
        .map_err(|_| StorageError::Encoding(format!("{what}: blob id is not 32 bytes")))
}

impl PgStore {
    pub(crate) fn sweep(&self, grace: Duration) -> Result<SweepReport, StorageError> {
        self.run_sweep(grace)
    }

    /// The blobs with a count whose id starts with `first` (one index range per blob
    /// directory).
    fn counted_with_prefix(&self, first: u8) -> Result<HashSet<BlobId>, StorageError> {
        let from = vec![first];
        let rows = self.pool().with(|c| {
            match first.checked_add(1) {
                Some(next) => c.query(
                    "SELECT blob FROM blobrefs WHERE blob >= $1 AND blob < $2",
                    &[&from, &vec![next]],
                ),
                None => c.query("SELECT blob FROM blobrefs WHERE blob >= $1", &[&from]),
            }
            .map_err(pg_error)
        })?;
        rows.iter()
            .map(|row| blob_of(row.get(0), "blob count"))
            .collect()
    }
}

impl SweepSteps for PgStore {
    fn body_store(&self) -> &BlobStore {
        self.blobs()
    }

    fn commit_sweep(&self) -> Result<(), StorageError> {
        self.commit()
    }

    fn sweep_messages(&self, report: &mut SweepReport) -> Result<(), StorageError> {
        let rows = self.pool().with(|c| {
            c.query(
                "SELECT folder, uid, blob, size FROM messages m
                 WHERE NOT EXISTS (SELECT 1 FROM unnest(m.keywords) k WHERE lower(k) = lower($1))
                 ORDER BY folder, uid",
                &[&DAMAGED_KEYWORD],
            )
            .map_err(pg_error)
        })?;
        let flag = Flags {
            system: 0,
            keywords: vec![DAMAGED_KEYWORD.to_string()],
        };
        for row in rows {
            let (folder, uid, size): (i64, i64, i64) = (row.get(0), row.get(1), row.get(3));
            let blob = blob_of(row.get(2), "message")?;
            let size = u64::try_from(size).unwrap_or(0);
            let Some(fault) = BodyFault::check(self.blobs(), &blob, size)? else {
                continue;
            };
            let (Ok(folder), Ok(uid)) = (u64::try_from(folder), u32::try_from(uid)) else {
                return Err(StorageError::Encoding(format!(
                    "message row: folder {folder} uid {uid} out of range"
                )));
            };
            let reason = fault.describe(&blob, size);
            let done = self.store_flags(folder, &[uid], FlagMode::Add, &flag, None)?;
            if !done.changed.iter().any(|c| c.0 == uid) {
                continue; // expunged, or flagged by another node's sweep, meanwhile
            }
            tracing::error!(
                folder,
                uid,
                "message kept and flagged {DAMAGED_KEYWORD}: {reason}"
            );
            report.messages_damaged += 1;
        }
        Ok(())
    }

    /// Sets every blob's reference count to the number of records holding it, in one
    /// transaction that keeps every other writer of counts waiting.
    fn rebuild_refcounts(&self, report: &mut SweepReport) -> Result<(), StorageError> {
        report.refcounts_fixed += self.pool().tx(|tx| {
            tx.batch_execute("LOCK TABLE blobrefs IN SHARE ROW EXCLUSIVE MODE")
                .map_err(pg_error)?;
            // Read after the lock: the statement's snapshot sees every writer that got in
            // before it.
            let wrong = tx
                .query(
                    "WITH held AS (
                         SELECT blob, count(*) AS n
                         FROM (SELECT blob FROM queue UNION ALL SELECT blob FROM messages
                               UNION ALL SELECT blob FROM dav_files WHERE blob IS NOT NULL) h
                         GROUP BY blob)
                     SELECT coalesce(h.blob, b.blob), coalesce(b.refcount, 0), coalesce(h.n, 0)
                     FROM held h FULL JOIN blobrefs b ON b.blob = h.blob
                     WHERE coalesce(b.refcount, 0) <> coalesce(h.n, 0)
                     ORDER BY 1",
                    &[],
                )
                .map_err(pg_error)?;
            for row in &wrong {
                let blob = blob_of(row.get(0), "blob count")?;
                let (counted, holders): (i64, i64) = (row.get(1), row.get(2));
                // A writer that read this count before the table lock and now waits for
                // it holds the blob's lock: the two deadlock, PostgreSQL aborts one and its
                // transaction runs again, reading the corrected count (no stale count
                // written over the fix).
                blobrefs::lock_blob(tx, &blob)?;
                tracing::warn!(%blob, counted, holders, "blob reference count corrected");
                if holders == 0 {
                    tx.execute("DELETE FROM blobrefs WHERE blob = $1", &[&&blob.0[..]])
                } else {
                    tx.execute(
                        "INSERT INTO blobrefs (blob, refcount) VALUES ($1, $2)
                         ON CONFLICT (blob) DO UPDATE SET refcount = EXCLUDED.refcount",
                        &[&&blob.0[..], &holders],
                    )
                }
                .map_err(pg_error)?;
            }
            Ok(wrong.len())
        })?;
        Ok(())
    }

    /// Removes body files no count references, once older than `grace`.
    fn sweep_orphans(&self, grace: Duration, report: &mut SweepReport) -> Result<(), StorageError> {
        visit_blob_dirs(self.blobs(), |first, files| {
            let counted = self.counted_with_prefix(first)?;
            for (blob, age) in files {
                if counted.contains(blob) {
                    continue;
                }
                if *age < grace {
                    report.orphans_kept += 1;
                    continue;
                }
                // Re-checks the count under the blob's advisory lock and respects pins.
                blobrefs::collect(self.pool(), self.blobs(), &[*blob]);
                if !self.blobs().exists(blob) {
                    tracing::info!(%blob, "unreferenced body file removed");
                    report.orphans_removed += 1;
                }
            }
            Ok(())
        })
    }
}
