//! The start-up sweep: repairs what a crash (a power loss above all) can leave between the
//! index and the blob directory. Run once when the server starts, before anything else
//! touches the store (not on every CLI command).
//!
//! - Every file present now is made durable first (one syncfs): bodies written by the
//!   previous process without a completed commit round may still sit in the page cache, and
//!   from now on deduplication trusts them.
//! - A queue record whose body is missing or shorter than recorded goes to the bad queue with
//!   the reason in `last_error`: it is never delivered as an empty or cut message.
//! - A folder message whose body is missing or short keeps its record and gets the keyword
//!   [`DAMAGED_KEYWORD`], so that an admin (or the owner) can find it with
//!   `SEARCH KEYWORD $Damaged`; reading its body answers an error, listing and POP3 sizes
//!   still work.
//! - Reference counts are rebuilt from the records (queue records and folder messages are the
//!   only holders): a count lost or left stale by a crash is corrected, so a body that a
//!   record holds is never collected.
//! - A body file no count references is removed once it is older than the grace period (by
//!   mtime); a younger one may belong to a write still on its way and stays.

use std::collections::HashMap;
use std::time::Duration;

use super::folder_record::MessageValue;
use super::keys::{self, decode_u64, TreeIx};
use super::{SledStore, StorageError};
use crate::storage::blobs::{BlobId, BlobStore};
use crate::storage::folders::Flags;
use crate::storage::messages::FlagMode;
use crate::storage::queue::QueueName;
use crate::storage::sweep::*;
use crate::storage::traits::Queue;

impl SledStore {
    /// Whether the body of a record of `size` bytes is there in full.
    fn body_fault(&self, blob: &BlobId, size: u64) -> Result<Option<BodyFault>, StorageError> {
        BodyFault::check(self.blobs(), blob, size)
    }
}

impl SweepSteps for SledStore {
    fn body_store(&self) -> &BlobStore {
        self.blobs()
    }

    fn commit_sweep(&self) -> Result<(), StorageError> {
        self.commit()
    }

    fn sweep_messages(&self, report: &mut SweepReport) -> Result<(), StorageError> {
        let mut damaged: Vec<(u64, u32, String)> = Vec::new();
        for entry in self.tree(TreeIx::Messages).iter() {
            let (k, v) = entry?;
            let value: MessageValue = keys::decode(&v, "message")?;
            if value.flags.has_keyword(DAMAGED_KEYWORD) {
                continue; // flagged (and logged) by an earlier sweep
            }
            if let Some(fault) = self.body_fault(&value.blob, value.size)? {
                let folder = k
                    .get(..8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| StorageError::Encoding("message key".into()))?;
                let uid = keys::uid_of_message_key(&k)?;
                damaged.push((folder, uid, fault.describe(&value.blob, value.size)));
            }
        }
        let flag = Flags {
            system: 0,
            keywords: vec![DAMAGED_KEYWORD.to_string()],
        };
        for (folder, uid, reason) in damaged {
            tracing::error!(
                folder,
                uid,
                "message kept and flagged {DAMAGED_KEYWORD}: {reason}"
            );
            self.store_flags(folder, &[uid], FlagMode::Add, &flag, None)?;
            report.messages_damaged += 1;
        }
        Ok(())
    }

    /// Sets every blob's reference count to the number of records holding it.
    fn rebuild_refcounts(&self, report: &mut SweepReport) -> Result<(), StorageError> {
        let mut held: HashMap<BlobId, u64> = HashMap::new();
        for queue in QueueName::ALL {
            for rec in self.queue_list(queue)? {
                *held.entry(rec.blob).or_insert(0) += 1;
            }
        }
        for entry in self.tree(TreeIx::Messages).iter() {
            let (_, v) = entry?;
            let value: MessageValue = keys::decode(&v, "message")?;
            *held.entry(value.blob).or_insert(0) += 1;
        }
        for entry in self.tree(TreeIx::DavFiles).iter() {
            let (_, v) = entry?;
            let node: crate::storage::davfiles::DavNode = keys::decode(&v, "dav node")?;
            if let Some(b) = node.body {
                *held.entry(b.blob).or_insert(0) += 1;
            }
        }
        let refs = self.tree(TreeIx::BlobRefs);
        let mut fix = |blob: BlobId, counted: u64, holders: u64| -> Result<(), StorageError> {
            tracing::warn!(%blob, counted, holders, "blob reference count corrected");
            if holders == 0 {
                refs.remove(blob.0)?;
            } else {
                refs.insert(blob.0, &holders.to_be_bytes())?;
            }
            report.refcounts_fixed += 1;
            Ok(())
        };
        for entry in refs.iter() {
            let (k, v) = entry?;
            let blob = BlobId(
                k.as_ref()
                    .try_into()
                    .map_err(|_| StorageError::Encoding("blob refcount key".into()))?,
            );
            let counted = decode_u64(&v, "blob refcount")?;
            let holders = held.remove(&blob).unwrap_or(0);
            if counted != holders {
                fix(blob, counted, holders)?;
            }
        }
        for (blob, holders) in held {
            fix(blob, 0, holders)?;
        }
        Ok(())
    }

    /// Removes body files no count references, once older than `grace`.
    fn sweep_orphans(&self, grace: Duration, report: &mut SweepReport) -> Result<(), StorageError> {
        visit_blob_dirs(self.blobs(), |_, files| {
            for (blob, age) in files {
                if self.blob_refcount(blob)? > 0 {
                    continue;
                }
                if *age < grace {
                    report.orphans_kept += 1;
                    continue;
                }
                // Re-checks the count in a transaction and respects pins, like any collection.
                self.collect_blobs(&[*blob]);
                if !self.blobs().exists(blob) {
                    tracing::info!(%blob, "unreferenced body file removed");
                    report.orphans_removed += 1;
                }
            }
            Ok(())
        })
    }
}

impl SledStore {
    pub(crate) fn sweep(&self, grace: Duration) -> Result<SweepReport, StorageError> {
        self.run_sweep(grace)
    }
}

/// Each test builds a crash state directly in a data directory, reopens the store (as a
/// restart would) and runs the sweep.
#[cfg(test)]
mod tests {
    use super::super::testutil::record;
    use super::super::testutil::{store, store_with_bob};
    use super::*;
    #[allow(unused_imports)]
    use crate::storage::*;
    use crate::storage::{NewMessage, QueueRecord};
    use std::fs::{self, File};
    use std::path::Path;
    use std::time::SystemTime;

    /// Drops `store` and opens its data directory again.
    fn reopen(dir: &Path, store: SledStore) -> SledStore {
        drop(store);
        SledStore::open(dir).expect("reopen")
    }

    fn queued(store: &SledStore, body: &[u8]) -> QueueRecord {
        let rec = record(store, QueueName::Inbound, body, &["bob@example.com"]);
        store.queue_put(&rec).unwrap();
        store.commit().unwrap();
        rec
    }

    /// Sets a file's mtime `age` into the past.
    fn age(path: &Path, age: Duration) {
        let file = File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn a_queue_record_without_its_body_goes_to_the_bad_queue() {
        let (dir, store) = store();
        let rec = queued(&store, b"Subject: lost\r\n\r\nbody\r\n");
        fs::remove_file(store.blobs().path(&rec.blob)).unwrap();
        let store = reopen(dir.path(), store);
        let report = store.sweep(ORPHAN_GRACE).unwrap();
        assert_eq!(report.queue_records_damaged, 1, "{report:?}");
        assert!(store.queue_list(QueueName::Inbound).unwrap().is_empty());
        let bad = store.queue_list(QueueName::Bad).unwrap();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].id, rec.id);
        let reason = bad[0].last_error.as_deref().unwrap_or_default();
        assert!(reason.contains("is missing"), "{reason}");
        // The bad record still holds its (missing) body.
        assert_eq!(store.blob_refcount(&rec.blob).unwrap(), 1);
        // Nothing more to do on the next start.
        let store = reopen(dir.path(), store);
        assert_eq!(store.sweep(ORPHAN_GRACE).unwrap(), SweepReport::default());
    }

    #[test]
    fn a_queue_record_with_a_short_body_goes_to_the_bad_queue() {
        let (dir, store) = store();
        let body = b"Subject: cut\r\n\r\na body that is cut in half\r\n";
        let rec = queued(&store, body);
        let path = store.blobs().path(&rec.blob);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(10)
            .unwrap();
        let store = reopen(dir.path(), store);
        let report = store.sweep(ORPHAN_GRACE).unwrap();
        assert_eq!(report.queue_records_damaged, 1, "{report:?}");
        let bad = store.queue_list(QueueName::Bad).unwrap();
        let reason = bad[0].last_error.as_deref().unwrap_or_default();
        let expected = format!("has 10 of its {} bytes", body.len());
        assert!(reason.contains(&expected), "{reason}");
        assert!(store.queue_list(QueueName::Inbound).unwrap().is_empty());
    }

    #[test]
    fn a_folder_message_without_its_body_is_kept_and_flagged() {
        let (dir, store) = store_with_bob();
        let inbox = store
            .folder_id("bob@example.com", "INBOX")
            .unwrap()
            .unwrap();
        let keep = b"Subject: fine\r\n\r\nstill here\r\n";
        let lose = b"Subject: gone\r\n\r\nlost\r\n";
        let mut uids = Vec::new();
        for content in [&keep[..], &lose[..]] {
            let blob = store.blobs().put(content).unwrap();
            let msg = NewMessage {
                blob,
                size: content.len() as u64,
                flags: Flags::default(),
                internal_date: 0,
            };
            uids.push(store.append_message(inbox, msg, None).unwrap().0);
        }
        store.commit().unwrap();
        let lost = BlobId::of(lose);
        fs::remove_file(store.blobs().path(&lost)).unwrap();
        let store = reopen(dir.path(), store);
        let report = store.sweep(ORPHAN_GRACE).unwrap();
        assert_eq!(report.messages_damaged, 1, "{report:?}");
        let messages = store.list_messages(inbox).unwrap();
        assert_eq!(messages.len(), 2, "no record is dropped");
        for m in &messages {
            let flagged = m.flags.has_keyword(DAMAGED_KEYWORD);
            assert_eq!(flagged, m.uid == uids[1], "uid {}: {:?}", m.uid, m.flags);
        }
        // Flagged once: the next start neither flags nor logs it again.
        let store = reopen(dir.path(), store);
        assert_eq!(store.sweep(ORPHAN_GRACE).unwrap().messages_damaged, 0);
    }

    #[test]
    fn old_orphan_files_are_removed_and_young_ones_kept() {
        let (dir, store) = store();
        let old = store.blobs().put(b"an old orphan").unwrap();
        let young = store.blobs().put(b"a young orphan").unwrap();
        age(&store.blobs().path(&old), 2 * ORPHAN_GRACE);
        let store = reopen(dir.path(), store);
        let report = store.sweep(ORPHAN_GRACE).unwrap();
        assert_eq!((report.orphans_removed, report.orphans_kept), (1, 1));
        assert!(!store.blobs().exists(&old));
        assert!(store.blobs().exists(&young));
    }

    /// A crash after the release of a body's last reference was durable but before its file
    /// was deleted: the count row is gone (or, written by an older build, still there).
    #[test]
    fn a_body_whose_last_reference_was_dropped_is_removed() {
        let (dir, store) = store();
        let gone = queued(&store, b"released");
        let stale = queued(&store, b"released, stale count");
        store.queue_delete(QueueName::Inbound, gone.id).unwrap();
        store
            .tree(TreeIx::Queue(QueueName::Inbound))
            .remove(stale.id.to_be_bytes())
            .unwrap();
        // The committer collects after answering; the second round starts after that.
        store.commit().unwrap();
        store.commit().unwrap();
        for blob in [gone.blob, stale.blob] {
            // Put back as a crash before the collection would have left them.
            let path = store.blobs().path(&blob);
            if !path.exists() {
                fs::write(&path, b"released").unwrap();
            }
            age(&path, 2 * ORPHAN_GRACE);
        }
        let store = reopen(dir.path(), store);
        let report = store.sweep(ORPHAN_GRACE).unwrap();
        assert_eq!(report.refcounts_fixed, 1, "{report:?}");
        assert_eq!(report.orphans_removed, 2, "{report:?}");
        assert!(!store.blobs().exists(&gone.blob));
        assert!(!store.blobs().exists(&stale.blob));
    }

    /// A crash lost the count row while the record holding the body survived: the count is
    /// rebuilt from the records and the (old) file stays.
    #[test]
    fn a_lost_count_is_rebuilt_from_the_records() {
        let (dir, store) = store();
        let rec = queued(&store, b"still held");
        store.tree(TreeIx::BlobRefs).remove(rec.blob.0).unwrap();
        store.commit().unwrap();
        age(&store.blobs().path(&rec.blob), 2 * ORPHAN_GRACE);
        let store = reopen(dir.path(), store);
        let report = store.sweep(ORPHAN_GRACE).unwrap();
        assert_eq!(report.refcounts_fixed, 1, "{report:?}");
        assert_eq!(report.orphans_removed, 0, "{report:?}");
        assert_eq!(store.blob_refcount(&rec.blob).unwrap(), 1);
        assert!(store.blobs().exists(&rec.blob));
        assert_eq!(store.queue_list(QueueName::Inbound).unwrap().len(), 1);
    }
}
