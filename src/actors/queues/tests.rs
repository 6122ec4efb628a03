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
        // A retry routes the record now (b@example.com is remote here) under a new id, and
        // says which.
        let done = apply_offline(&store, &w.queues, &Change::Retry(rec.id)).expect("retried");
        let Done::Retried(to) = &done.done else {
            panic!("not retried: {done:?}");
        };
        let [(queue, new)] = to.as_slice() else {
            panic!("one record expected: {to:?}");
        };
        assert_eq!(
            (done.from, *queue),
            (QueueName::Deferred, QueueName::Remote)
        );
        assert_ne!(*new, rec.id);
        assert_eq!(store.queue_find(rec.id).unwrap(), None, "replaced");
        let now = store.queue_find(*new).unwrap().expect("routed record");
        assert_eq!(
            (now.queue, now.due, now.blob),
            (QueueName::Remote, None, rec.blob)
        );
        assert_eq!(
            done.text(),
            format!(
                "{:016X} retried from deferred, another attempt now: {new:016X} in remote",
                rec.id
            )
        );
        assert_eq!(store.queue_depth(QueueName::Deferred).unwrap(), 0);
        let rec = now;
        let inbound = Change::MoveTo {
            id: rec.id,
            to: QueueName::Inbound,
        };
        apply_offline(&store, &w.queues, &inbound).expect("moved");
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
