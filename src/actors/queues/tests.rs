//! The one-writer rule for queue records, checked on the source: the store's queue writes
//! are called only by the storage layer and by the queue actors' module.

use std::path::{Path, PathBuf};

/// The store's queue-record writes.
const WRITES: [&str; 4] = [
    ".queue_put(",
    ".queue_move(",
    ".queue_replace(",
    ".queue_delete(",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_queue_actors_write_queue_records() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed = [src.join("storage"), src.join("actors").join("queues")];
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "the source tree was not found: {files:?}");
    let mut writers = Vec::new();
    for file in files
        .iter()
        .filter(|f| !allowed.iter().any(|a| f.starts_with(a)))
    {
        let text = std::fs::read_to_string(file).expect("readable source");
        for (n, line) in text.lines().enumerate() {
            if WRITES.iter().any(|w| line.contains(w)) {
                writers.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        writers.is_empty(),
        "queue records written outside the queue actors:\n{}",
        writers.join("\n")
    );
    // And the check sees what it looks for.
    let own = std::fs::read_to_string(src.join("actors/queues/inbound.rs")).expect("inbound");
    assert!(own.contains(".queue_replace("));
}

mod offline {
    use crate::actors::queues::{apply_offline, Change, Done, Refused};
    use crate::storage::testutil::store;
    use crate::storage::{QueueName, QueueRecipient, QueueRecord, Store};

    fn queued(store: &Store, queue: QueueName) -> QueueRecord {
        let body = b"Subject: s\r\n\r\nbody\r\n";
        let blob = store.blobs().put(body).expect("body");
        let id = store.next_queue_id().expect("id");
        let to = vec![QueueRecipient::new("b@example.com")];
        let new = QueueRecord::inbound(
            id,
            blob,
            body.len() as u64,
            "a@x.test".into(),
            to,
            "test".into(),
            0,
        );
        let rec = QueueRecord {
            queue,
            due: Some(99),
            ..new
        };
        store.queue_put(&rec).expect("put");
        rec
    }

    #[test]
    fn retry_move_and_delete_each_change_one_record_once() {
        let (_d, store) = store();
        let rec = queued(&store, QueueName::Deferred);
        let done = apply_offline(&store, &Change::Retry(rec.id)).expect("retried");
        assert_eq!((done.from, done.done), (QueueName::Deferred, Done::Retried));
        let now = store.queue_find(rec.id).unwrap().expect("still queued");
        assert_eq!((now.queue, now.due), (QueueName::Inbound, None));
        let again = apply_offline(&store, &Change::Retry(rec.id)).expect("answered");
        assert_eq!(again.done, Done::AlreadyInbound);

        let to = QueueName::Bad;
        let moved = apply_offline(&store, &Change::MoveTo { id: rec.id, to }).expect("moved");
        assert_eq!(
            moved.text(),
            format!("{:016X} moved from inbound to bad", rec.id)
        );
        assert_eq!(
            apply_offline(&store, &Change::MoveTo { id: rec.id, to }),
            Err(Refused::AlreadyThere(rec.id, to))
        );
        assert_eq!(store.queue_depth(QueueName::Inbound).unwrap(), 0);

        let deleted = apply_offline(&store, &Change::Delete(rec.id)).expect("deleted");
        assert_eq!(deleted.done, Done::Deleted);
        assert_eq!(store.queue_find(rec.id).unwrap(), None);
        assert_eq!(
            apply_offline(&store, &Change::Delete(rec.id)),
            Err(Refused::NoSuchRecord(rec.id))
        );
    }

    #[test]
    fn bounce_needs_the_running_server() {
        let (_d, store) = store();
        let rec = queued(&store, QueueName::Bad);
        let refused = apply_offline(&store, &Change::Bounce(rec.id)).unwrap_err();
        assert!(
            refused.to_string().contains("needs a running server"),
            "{refused}"
        );
        assert_eq!(store.queue_depth(QueueName::Bad).unwrap(), 1, "unchanged");
    }
}
