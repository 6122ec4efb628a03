//! Blob reference counts in `v1/blobrefs`: they change inside the transactions that add or
//! remove the records holding a blob, and a file whose count reached 0 is deleted only after
//! the round that made that release durable.

use std::collections::BTreeMap;

use super::keys::{decode_u64, TreeIx};
use super::{abort, SledStore, Tx, TxResult};
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

    /// Write the new counts. A count going from 0 to positive requires the blob file to exist.
    /// Returns the blobs whose count reached 0 (to collect after the commit).
    pub(crate) fn apply(&self, tx: &Tx, blobs: &BlobStore) -> TxResult<Vec<BlobId>> {
        let tree = tx.tree(TreeIx::BlobRefs);
        let mut zeroed = Vec::new();
        for (blob, delta) in &self.deltas {
            if *delta == 0 {
                continue;
            }
            let current = match tree.get(blob.0)? {
                None => 0,
                Some(v) => match decode_u64(&v, "blob refcount") {
                    Ok(n) => n,
                    Err(e) => return abort(e),
                },
            };
            let new = i128::from(current) + i128::from(*delta);
            if new <= 0 {
                if new < 0 {
                    tracing::warn!(%blob, current, delta, "blob refcount would go negative");
                }
                tree.remove(&blob.0)?;
                zeroed.push(*blob);
            } else {
                if current == 0 && !blobs.exists(blob) {
                    return abort(StorageError::NotFound(format!("blob {blob}")));
                }
                let new = u64::try_from(new).unwrap_or(u64::MAX);
                tree.insert(&blob.0, &new.to_be_bytes())?;
            }
        }
        Ok(zeroed)
    }
}

impl SledStore {
    /// Delete the files of `zeroed` blobs whose count is still 0, now. Only for blobs whose
    /// release is durable (the committer after its flush) or that no durable record ever held.
    pub(crate) fn collect_blobs(&self, zeroed: &[BlobId]) {
        collect(&self.inner.trees, self.blobs(), zeroed);
    }

    /// Delete the files of `zeroed` blobs after the next commit round that flushes sled, if
    /// their count is still 0 then. Called after the transaction that released them: deleting
    /// at once would let a crash bring back the record (its removal not yet durable) without
    /// its body.
    pub(crate) fn collect_after_commit(&self, zeroed: &[BlobId]) {
        self.blobs().release(zeroed);
    }
}

impl SledStore {
    pub(crate) fn blob_refcount(&self, blob: &BlobId) -> Result<u64, StorageError> {
        match self.tree(TreeIx::BlobRefs).get(blob.0)? {
            None => Ok(0),
            Some(v) => decode_u64(&v, "blob refcount"),
        }
    }
}

/// Delete the files of `zeroed` blobs whose count is still 0. Runs as a transaction so that
/// it is ordered against a concurrent 0 → 1 (which checks the file exists). Failures are
/// logged: a leftover file wastes space, nothing more (the start-up sweep removes it).
pub(crate) fn collect(trees: &[sled::Tree], blobs: &BlobStore, zeroed: &[BlobId]) {
    for blob in zeroed {
        let res = super::transact_on(trees, |tx| {
            if tx.tree(TreeIx::BlobRefs).get(blob.0)?.is_none() {
                if let Err(e) = blobs.remove(blob) {
                    return super::abort(e);
                }
            }
            Ok(())
        });
        if let Err(e) = res {
            tracing::warn!(%blob, error = %e, "cannot delete unreferenced blob");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::store;
    use super::*;
    #[allow(unused_imports)]
    use crate::storage::*;
    use std::fs;

    #[test]
    fn blob_id_hex_round_trip() {
        let id = BlobId::of(b"hello");
        let s = id.to_string();
        assert_eq!(
            s,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(s.parse::<BlobId>().unwrap(), id);
        assert!("abc".parse::<BlobId>().is_err());
        assert!("zz".repeat(32).parse::<BlobId>().is_err());
    }

    #[test]
    fn put_get_path_exists() {
        let (_dir, store) = store();
        let blobs = store.blobs();
        let id = blobs.put(b"body").unwrap();
        assert_eq!(id, BlobId::of(b"body"));
        assert!(blobs.exists(&id));
        assert_eq!(blobs.get(&id).unwrap(), b"body");
        let hex = id.to_string();
        assert!(blobs
            .path(&id)
            .ends_with(format!("{}/{}", &hex[..2], &hex[2..])));
        // Durable when `put` returned: one round synced it.
        assert!(!blobs.is_pending(&id));
        assert_eq!(store.commit_stats().blob_syncs_requested, 1);
        // Same content again: same id, no tmp file left behind, no second sync.
        assert_eq!(blobs.put(b"body").unwrap(), id);
        assert_eq!(fs::read_dir(&blobs.tmp).unwrap().count(), 0);
        assert_eq!(store.commit_stats().blob_syncs_requested, 1);
    }

    /// A body written but not yet synced (another writer's, its round still to come): a
    /// `put` or `finish` of the same content does not trust the file but waits for a sync.
    #[test]
    fn a_duplicate_of_a_pending_body_waits_for_its_sync() {
        let (_dir, store) = store();
        let blobs = store.blobs();
        let content = b"Subject: twice\r\n\r\nbody\r\n";
        let tmp = blobs.tmp_path();
        fs::write(&tmp, content).unwrap();
        let id = BlobId::of(content);
        blobs.place(&tmp, &id).unwrap();
        assert!(blobs.is_pending(&id));
        assert_eq!(blobs.put(content).unwrap(), id);
        assert_eq!(store.commit_stats().blob_syncs_requested, 1);
        assert!(!blobs.is_pending(&id));
        // The same through the streaming path.
        let tmp = blobs.tmp_path();
        fs::write(&tmp, b"other").unwrap();
        let other = BlobId::of(b"other");
        blobs.place(&tmp, &other).unwrap();
        let mut w = blobs.writer().unwrap();
        w.write(b"other").unwrap();
        let (found, _, _pin) = blobs.finish(w).unwrap();
        assert_eq!(found, other);
        assert_eq!(store.commit_stats().blob_syncs_requested, 2);
        assert!(!blobs.is_pending(&other));
    }

    /// The bodies of a MULTIAPPEND share one wait, through either path.
    #[test]
    fn several_bodies_share_one_sync() {
        let (_dir, store) = store();
        let blobs = store.blobs();
        let contents: [&[u8]; 3] = [b"one", b"two", b"three"];
        let ids = blobs.put_all(&contents).unwrap();
        assert_eq!(ids, contents.map(BlobId::of));
        assert_eq!(store.commit_stats().blob_syncs_requested, 1);
        let writers = [b"four", b"five"]
            .iter()
            .map(|c| {
                let mut w = blobs.writer().unwrap();
                w.write(*c).unwrap();
                w
            })
            .collect();
        let placed = blobs.finish_all(writers).unwrap();
        assert_eq!(placed.len(), 2);
        assert_eq!(store.commit_stats().blob_syncs_requested, 2);
        assert!(ids
            .iter()
            .chain(placed.iter().map(|p| &p.0))
            .all(|id| !blobs.is_pending(id) && blobs.exists(id)));
    }

    /// A failed sync (EIO) fails the writer and drops the body it wrote (its pages may be
    /// gone while a later sync succeeds): the next writer of the same content writes it anew.
    #[test]
    fn a_failed_sync_fails_the_writer_and_drops_its_body() {
        let (_dir, store) = store();
        store.inject_sync_errors(1);
        let err = store.blobs().put(b"unlucky").unwrap_err();
        assert!(
            matches!(&err, StorageError::Io(e) if e.raw_os_error() == Some(libc::EIO)),
            "{err}"
        );
        let id = BlobId::of(b"unlucky");
        assert!(!store.blobs().exists(&id));
        assert!(!store.blobs().is_pending(&id));
        assert_eq!(store.blobs().put(b"unlucky").unwrap(), id);
        assert_eq!(store.blobs().get(&id).unwrap(), b"unlucky");
        assert!(!store.blobs().is_pending(&id));
    }

    /// The file of a released body goes only after a round that flushed sled (the release
    /// durable); a failed round keeps it.
    #[test]
    fn a_released_body_is_deleted_after_its_release_is_durable() {
        let (_dir, store) = store();
        let rec = super::super::testutil::record(
            &store,
            QueueName::Inbound,
            b"released",
            &["bob@example.com"],
        );
        store.queue_put(&rec).unwrap();
        store.commit().unwrap();
        store.queue_delete(QueueName::Inbound, rec.id).unwrap();
        assert_eq!(store.blob_refcount(&rec.blob).unwrap(), 0);
        assert!(store.blobs().exists(&rec.blob), "deleted before the commit");
        store.inject_sync_errors(1);
        assert!(store.commit().is_err());
        assert!(
            store.blobs().exists(&rec.blob),
            "deleted after a failed round"
        );
        store.commit().unwrap();
        // The committer collects after answering; the next round starts after that.
        store.commit().unwrap();
        assert!(
            !store.blobs().exists(&rec.blob),
            "not deleted after the commit"
        );
    }

    #[test]
    fn get_missing_blob_is_not_found() {
        let (_dir, store) = store();
        let err = store.blobs().get(&BlobId::of(b"nothing")).unwrap_err();
        assert!(matches!(err, StorageError::NotFound(_)));
        assert!(err.to_string().starts_with("blob "), "{err}");
    }

    #[test]
    fn open_clears_tmp_leftovers() {
        let dir = tempfile::TempDir::new().unwrap();
        let tmp = dir.path().join("blobs/tmp");
        fs::create_dir_all(&tmp).unwrap();
        fs::write(tmp.join("partial"), b"x").unwrap();
        let _store = SledStore::open(dir.path()).unwrap();
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
    }

    /// A streamed body that duplicates an unreferenced blob pins it: the collector (an
    /// EXPUNGE that dropped the last reference) leaves the file until the pin is gone, so
    /// the append's transaction finds it. Collected first, the file is written anew.
    #[test]
    fn a_pinned_duplicate_survives_collection() {
        let (_dir, store) = store();
        let content = b"Subject: same\r\n\r\nagain\r\n";
        let id = store.blobs().put(content).unwrap();
        let path = store.blobs().path(&id);
        let mut w = store.blobs().writer().unwrap();
        w.write(content).unwrap();
        let (found, len, pin) = store.blobs().finish(w).unwrap();
        assert_eq!((found, len), (id, content.len() as u64));
        store.collect_blobs(&[id]);
        assert!(path.exists(), "a pinned blob was collected");
        drop(pin);
        store.collect_blobs(&[id]);
        assert!(!path.exists(), "an unpinned, unreferenced blob stayed");
        let mut w = store.blobs().writer().unwrap();
        w.write(content).unwrap();
        let (_, _, _pin) = store.blobs().finish(w).unwrap();
        assert_eq!(fs::read(&path).unwrap(), content);
    }

    /// The same for whole bodies put at once (SMTP, fetched mail, IMAP APPEND without a
    /// streamed literal): `put_pinned` finds the unreferenced file and keeps it from the
    /// collector until the referencing transaction; `put_all_pinned` too.
    #[test]
    fn put_pinned_keeps_a_duplicate_from_the_collector() {
        let (_dir, store) = store();
        let content: &[u8] = b"Subject: same\r\n\r\nonce more\r\n";
        let id = store.blobs().put(content).unwrap();
        let path = store.blobs().path(&id);
        let (found, pin) = store.blobs().put_pinned(content).unwrap();
        assert_eq!(found, id);
        store.collect_blobs(&[id]);
        assert!(path.exists(), "a pinned blob was collected");
        // The transaction that references it now finds the file.
        store
            .transact(|tx| {
                let mut d = RefDelta::default();
                d.add(id);
                d.apply(tx, store.blobs())
            })
            .unwrap();
        drop(pin);
        store.collect_blobs(&[id]);
        assert!(path.exists(), "a referenced blob was collected");

        let other: &[u8] = b"Subject: other\r\n\r\nbody\r\n";
        let other_id = store.blobs().put(other).unwrap();
        let (ids, pins) = store.blobs().put_all_pinned(&[other]).unwrap();
        assert_eq!(ids, vec![other_id]);
        store.collect_blobs(&[other_id]);
        assert!(
            store.blobs().exists(&other_id),
            "a pinned blob was collected"
        );
        drop(pins);
        store.collect_blobs(&[other_id]);
        assert!(
            !store.blobs().exists(&other_id),
            "an unpinned, unreferenced blob stayed"
        );
    }

    #[test]
    fn refcount_zero_to_one_needs_the_file() {
        let (_dir, store) = store();
        let ghost = BlobId::of(b"never written");
        let err = store
            .transact(|tx| {
                let mut d = RefDelta::default();
                d.add(ghost);
                d.apply(tx, store.blobs())
            })
            .unwrap_err();
        assert!(matches!(err, StorageError::NotFound(_)));
        assert_eq!(store.blob_refcount(&ghost).unwrap(), 0);
    }

    #[test]
    fn collect_deletes_only_unreferenced_files() {
        let (_dir, store) = store();
        let a = store.blobs().put(b"a").unwrap();
        let b = store.blobs().put(b"b").unwrap();
        store
            .transact(|tx| {
                let mut d = RefDelta::default();
                d.add(b);
                d.apply(tx, store.blobs())
            })
            .unwrap();
        store.collect_blobs(&[a, b]);
        assert!(!store.blobs().exists(&a));
        assert!(store.blobs().exists(&b));
        assert_eq!(store.blob_refcount(&b).unwrap(), 1);
    }
}
