//! Blob reference counts in the `blobrefs` table, changed inside the transactions that add or
//! remove the records holding a blob. A count going 0 → 1 and the deletion of a file whose
//! count reached 0 both take the blob's advisory lock, so on every node they are ordered: a
//! file is never deleted under a record that just took a reference on it.

use std::collections::BTreeMap;

use super::pool::{pg_error, Db, Tx};
use super::PgStore;
use crate::storage::{BlobId, BlobStore, StorageError};

/// Reference-count changes collected during one transaction, applied at its end.
#[derive(Default)]
pub(crate) struct RefDelta {
    deltas: BTreeMap<BlobId, i64>,
}

impl RefDelta {
    pub(crate) fn add(&mut self, blob: BlobId) {
        *self.deltas.entry(blob).or_insert(0) += 1;
    }

    pub(crate) fn release(&mut self, blob: BlobId) {
        *self.deltas.entry(blob).or_insert(0) -= 1;
    }

    /// Writes the new counts in `tx`. A count going from 0 to positive requires the blob file
    /// to exist (NotFound otherwise, and the caller's transaction should abort). Returns the
    /// blobs whose count reached 0, for [`crate::storage::BlobRefs::collect_after_commit`]
    /// once `tx` has committed.
    ///
    /// A count grows in one statement and shrinks in two (the row's lock orders the writers
    /// of one blob); only a count that went from 0 to positive also takes the blob's
    /// advisory lock and then checks that the file is there. That orders it against [`collect`], which
    /// deletes a file under the same lock only when it sees no row: either the collector
    /// ran first and the file is gone (NotFound here), or it runs after this commit and
    /// sees the row.
    pub(crate) fn apply(
        &self,
        tx: &mut Tx<'_>,
        blobs: &BlobStore,
    ) -> Result<Vec<BlobId>, StorageError> {
        let mut zeroed = Vec::new();
        // BTreeMap order: every transaction takes the locks in the same order (no deadlock).
        for (blob, delta) in &self.deltas {
            if *delta == 0 {
                continue;
            }
            if *delta > 0 {
                let new: i64 = tx
                    .query_one(
                        "INSERT INTO blobrefs AS b (blob, refcount) VALUES ($1, $2)
                         ON CONFLICT (blob) DO UPDATE SET refcount = b.refcount + EXCLUDED.refcount
                         RETURNING refcount",
                        &[&&blob.0[..], delta],
                    )
                    .map_err(pg_error)?
                    .get(0);
                // No row held a count before (rows at 0 are deleted): 0 → positive.
                if new <= *delta {
                    lock_blob(tx, blob)?;
                    if !blobs.exists(blob) {
                        return Err(StorageError::NotFound(format!("blob {blob}")));
                    }
                }
                continue;
            }
            // A release never takes a count from 0 to positive: the row's lock is enough.
            let current: i64 = tx
                .query_opt(
                    "SELECT refcount FROM blobrefs WHERE blob = $1 FOR UPDATE",
                    &[&&blob.0[..]],
                )
                .map_err(pg_error)?
                .map_or(0, |r| r.get(0));
            let new = current + delta;
            if new > 0 {
                tx.execute(
                    "UPDATE blobrefs SET refcount = $2 WHERE blob = $1",
                    &[&&blob.0[..], &new],
                )
                .map_err(pg_error)?;
                continue;
            }
            if new < 0 {
                tracing::warn!(%blob, current, delta, "blob refcount would go negative");
            }
            if current > 0 {
                tx.execute("DELETE FROM blobrefs WHERE blob = $1", &[&&blob.0[..]])
                    .map_err(pg_error)?;
            }
            zeroed.push(*blob);
        }
        Ok(zeroed)
    }
}

/// Takes `blob`'s advisory lock until the end of the transaction.
pub(crate) fn lock_blob(tx: &mut impl Db, blob: &BlobId) -> Result<(), StorageError> {
    let mut key = [0u8; 8];
    key.copy_from_slice(&blob.0[..8]);
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&i64::from_be_bytes(key)],
    )
    .map_err(pg_error)?;
    Ok(())
}

impl PgStore {
    pub(crate) fn blob_refcount(&self, blob: &BlobId) -> Result<u64, StorageError> {
        self.pool().with(|c| {
            let n: Option<i64> = c
                .query_opt(
                    "SELECT refcount FROM blobrefs WHERE blob = $1",
                    &[&&blob.0[..]],
                )
                .map_err(pg_error)?
                .map(|r| r.get(0));
            Ok(n.unwrap_or(0).max(0) as u64)
        })
    }
}

/// Deletes the files of `zeroed` blobs whose count is still 0, each under its advisory lock
/// (ordered against a 0 → 1 on any node). Failures are logged: a leftover file wastes
/// space, nothing more (`storage check` reports it, the start-up sweep removes it).
pub(crate) fn collect(pool: &super::pool::Pool, blobs: &BlobStore, zeroed: &[BlobId]) {
    for blob in zeroed {
        let res = pool.tx(|tx| {
            lock_blob(tx, blob)?;
            let held = tx
                .query_opt("SELECT 1 FROM blobrefs WHERE blob = $1", &[&&blob.0[..]])
                .map_err(pg_error)?
                .is_some();
            if !held {
                blobs.remove(blob)?;
            }
            Ok(())
        });
        if let Err(e) = res {
            tracing::warn!(%blob, error = %e, "cannot delete unreferenced blob");
        }
    }
}
