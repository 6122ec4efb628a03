//! Offline queue changes (the one-shot CLI). The one-writer rule itself is a compile-time
//! guarantee: `Store` has no queue-write methods (see the `compile_fail` examples on
//! `storage::Store`), and only this module reaches the queue actors' `QueueWriter`.

mod offline {
    use crate::actors::queues::{apply_offline, Change, Done, Refused};
    use crate::storage::testutil::opened;
    use crate::storage::{QueueName, QueueRecipient, QueueRecord, QueueWriter, Store};

    fn queued(store: &Store, writer: &QueueWriter, queue: QueueName) -> QueueRecord {
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
        writer.queue_put(&rec).expect("put");
        rec
    }

    #[test]
    fn retry_move_and_delete_each_change_one_record_once() {
        let (_d, store, w) = opened();
        let rec = queued(&store, &w.queues, QueueName::Deferred);
        let done = apply_offline(&store, &w.queues, &Change::Retry(rec.id)).expect("retried");
        assert_eq!((done.from, done.done), (QueueName::Deferred, Done::Retried));
        let now = store.queue_find(rec.id).unwrap().expect("still queued");
        assert_eq!((now.queue, now.due), (QueueName::Inbound, None));
        let again = apply_offline(&store, &w.queues, &Change::Retry(rec.id)).expect("answered");
        assert_eq!(again.done, Done::AlreadyInbound);

        let to = QueueName::Bad;
        let moved =
            apply_offline(&store, &w.queues, &Change::MoveTo { id: rec.id, to }).expect("moved");
        assert_eq!(
            moved.text(),
            format!("{:016X} moved from inbound to bad", rec.id)
        );
        assert_eq!(
            apply_offline(&store, &w.queues, &Change::MoveTo { id: rec.id, to }),
            Err(Refused::AlreadyThere(rec.id, to))
        );
        assert_eq!(store.queue_depth(QueueName::Inbound).unwrap(), 0);

        let deleted = apply_offline(&store, &w.queues, &Change::Delete(rec.id)).expect("deleted");
        assert_eq!(deleted.done, Done::Deleted);
        assert_eq!(store.queue_find(rec.id).unwrap(), None);
        assert_eq!(
            apply_offline(&store, &w.queues, &Change::Delete(rec.id)),
            Err(Refused::NoSuchRecord(rec.id))
        );
    }

    #[test]
    fn bounce_needs_the_running_server() {
        let (_d, store, w) = opened();
        let rec = queued(&store, &w.queues, QueueName::Bad);
        let refused = apply_offline(&store, &w.queues, &Change::Bounce(rec.id)).unwrap_err();
        assert!(
            refused.to_string().contains("needs a running server"),
            "{refused}"
        );
        assert_eq!(store.queue_depth(QueueName::Bad).unwrap(), 1, "unchanged");
    }
}
