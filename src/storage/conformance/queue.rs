//! Queue and blob-reference checks.

use super::{append, body, fresh, inbox, Open, BOB};
use crate::storage::{QueueName, QueueRecipient, QueueRecord, StorageError};

fn record(store: &crate::storage::Store, queue: QueueName, content: &[u8]) -> QueueRecord {
    let id = store.next_queue_id().unwrap();
    let mut rec = QueueRecord::inbound(
        id,
        body(store, content),
        content.len() as u64,
        "sender@remote.test".into(),
        vec![QueueRecipient::new(BOB)],
        "127.0.0.1".into(),
        1_700_000_000,
    );
    rec.queue = queue;
    rec
}

/// In each of the six queues a record is put, read, listed, counted, moved and deleted; ids
/// only grow; a record held by a queue holds its body.
pub fn queue_put_move_delete_per_queue(open: Open) {
    let (_dir, store) = fresh(open);
    let mut last_id = None;
    for (i, &queue) in QueueName::ALL.iter().enumerate() {
        let rec = record(&store, queue, format!("message {i}").as_bytes());
        if let Some(last) = last_id {
            assert!(rec.id > last, "queue id {} after {last}", rec.id);
        }
        last_id = Some(rec.id);
        store.0.queue_put(&rec).unwrap();
        assert_eq!(store.queue_get(queue, rec.id).unwrap(), Some(rec.clone()));
        assert_eq!(store.queue_find(rec.id).unwrap(), Some(rec.clone()));
        assert_eq!(store.queue_list(queue).unwrap(), vec![rec.clone()]);
        assert_eq!(store.queue_depth(queue).unwrap(), 1);
        assert_eq!(store.blob_refcount(&rec.blob).unwrap(), 1);

        let to = QueueName::ALL[(i + 1) % QueueName::ALL.len()];
        store.0.queue_move(rec.id, queue, to).unwrap();
        assert_eq!(store.queue_get(queue, rec.id).unwrap(), None);
        assert_eq!(store.queue_depth(queue).unwrap(), 0);
        let moved = store.queue_get(to, rec.id).unwrap().expect("moved record");
        assert_eq!(
            (moved.blob, moved.recipients),
            (rec.blob, rec.recipients.clone())
        );
        assert_eq!(store.queue_depth(to).unwrap(), 1);
        assert!(
            store.0.queue_move(rec.id, queue, to).is_err(),
            "moved twice"
        );
        assert_eq!(store.blob_refcount(&rec.blob).unwrap(), 1);

        store.0.queue_delete(to, rec.id).unwrap();
        assert_eq!(store.queue_find(rec.id).unwrap(), None);
        assert_eq!(store.queue_depth(to).unwrap(), 0);
        assert_eq!(store.blob_refcount(&rec.blob).unwrap(), 0);
        assert!(store.0.queue_delete(to, rec.id).is_err(), "deleted twice");
    }
    // Replacing a record by its successors keeps the body referenced by them alone.
    let rec = record(&store, QueueName::Inbound, b"split me");
    store.0.queue_put(&rec).unwrap();
    let mut a = rec.clone();
    a.id = store.next_queue_id().unwrap();
    a.queue = QueueName::Local;
    let mut b = rec.clone();
    b.id = store.next_queue_id().unwrap();
    b.queue = QueueName::Remote;
    store
        .0
        .queue_replace(QueueName::Inbound, rec.id, &[a.clone(), b.clone()])
        .unwrap();
    assert_eq!(store.queue_get(QueueName::Inbound, rec.id).unwrap(), None);
    assert_eq!(store.queue_get(QueueName::Local, a.id).unwrap(), Some(a));
    assert_eq!(store.queue_get(QueueName::Remote, b.id).unwrap(), Some(b));
    assert_eq!(store.blob_refcount(&rec.blob).unwrap(), 2);
}

/// Every record holding a body counts once; the file goes after the last reference is
/// dropped and a commit made that durable, and not before.
pub fn blob_references_counted_and_released(open: Open) {
    let (_dir, store) = fresh(open);
    let content = b"Subject: shared\r\n\r\nthe same body twice";
    let blob = body(&store, content);
    assert!(store.blobs().exists(&blob));
    assert_eq!(store.blob_refcount(&blob).unwrap(), 0);
    let folder = inbox(&store, BOB);
    let (uid, _) = append(&store, folder, content);
    assert_eq!(store.blob_refcount(&blob).unwrap(), 1);
    let other = store.create_folder(BOB, "Copies", None).unwrap();
    let copied = store.0.copy_messages(folder, &[uid], other).unwrap();
    assert_eq!(copied.len(), 1, "{copied:?}");
    assert_eq!(copied[0].0, uid);
    assert_eq!(store.blob_refcount(&blob).unwrap(), 2);
    assert_eq!(
        store.get_message(folder, uid).unwrap().map(|m| m.blob),
        Some(blob)
    );
    assert_eq!(store.blobs().get(&blob).unwrap(), content);

    store.0.expunge(folder, &[uid]).unwrap();
    assert_eq!(store.blob_refcount(&blob).unwrap(), 1);
    store.commit().unwrap();
    store.commit().unwrap();
    assert!(
        store.blobs().exists(&blob),
        "collected while still referenced"
    );
    store.0.delete_folder(other).unwrap();
    assert_eq!(store.blob_refcount(&blob).unwrap(), 0);
    // The committer collects after answering the round that made the release durable; the
    // next round starts only after that.
    store.commit().unwrap();
    store.commit().unwrap();
    assert!(!store.blobs().exists(&blob), "unreferenced body kept");
    assert!(matches!(
        store.blobs().get(&blob),
        Err(StorageError::NotFound(_))
    ));
}
