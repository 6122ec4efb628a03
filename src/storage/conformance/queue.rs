//! Queue and blob-reference checks.

use std::fs::File;
use std::time::{Duration, SystemTime};

use super::{append, body, fresh, inbox, DataDir, Open, BOB};
use crate::storage::{
    QueueName, QueueRecipient, QueueRecord, StorageError, SweepReport, ORPHAN_GRACE,
};

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

/// A record's delivery history survives the backend; `queue_select` counts every record
/// its test keeps and returns the asked page of them, whole, in id order.
pub fn queue_select_and_history(open: Open) {
    let (_dir, store) = fresh(open);
    let mut ids = Vec::new();
    for i in 0..7u64 {
        let mut rec = record(
            &store,
            QueueName::Deferred,
            format!("select {i}").as_bytes(),
        );
        rec.size = i;
        rec.record_attempts([crate::storage::DeliveryAttempt {
            at: 1_700_000_000 + i as i64,
            attempt: 1,
            recipient: BOB.into(),
            host: Some("mx.remote.test".into()),
            status: "4.2.0".into(),
            text: format!("451 4.2.0 busy {i}"),
            outcome: crate::storage::AttemptOutcome::Deferred,
        }]);
        store.0.queue_put(&rec).unwrap();
        ids.push(rec);
    }
    let back = store
        .queue_get(QueueName::Deferred, ids[3].id)
        .unwrap()
        .unwrap();
    assert_eq!(back.history, ids[3].history);
    let odd = |h: &crate::storage::QueueHead<'_>| h.size % 2 == 1;
    let (total, page) = store.queue_select(QueueName::Deferred, &odd, 1, 2).unwrap();
    assert_eq!(total, 3);
    assert_eq!(page, vec![ids[3].clone(), ids[5].clone()]);
    let (total, page) = store.queue_select(QueueName::Deferred, &odd, 5, 2).unwrap();
    assert_eq!((total, page.len()), (3, 0));
    let (total, _) = store.queue_select(QueueName::Bad, &odd, 0, 10).unwrap();
    assert_eq!(total, 0);
}

/// The domain index follows every write (put, move, replace, delete): a domain view reads
/// the records of its domains by recipient, original recipient and submitter, never by
/// sender; keyset pages (`after`) and id-only reads agree with offset pages; the text hint
/// skips only records without the text; `storage check`'s index check stays clean.
pub fn queue_domain_views(open: Open) {
    use crate::storage::{PageStart, QueueHead, QueueView};
    let (_dir, store) = fresh(open);
    let put = |to: &str, auth: Option<&str>, original: Option<&str>, queue: QueueName| {
        let mut rec = record(&store, queue, format!("to {to}").as_bytes());
        rec.mail_from = "boss@example.org".into(); // the sender never counts
        rec.recipients = vec![QueueRecipient::new(to)];
        if let Some(o) = original {
            rec.recipients[0].original = o.into();
        }
        rec.auth_as = auth.map(str::to_string);
        store.0.queue_put(&rec).unwrap();
        rec
    };
    let a = put("a@Example.org", None, None, QueueName::Deferred);
    let b = put(
        "x@remote.test",
        Some("u@example.org"),
        None,
        QueueName::Deferred,
    );
    let c = put(
        "x@remote.test",
        None,
        Some("info@EXAMPLE.ORG"),
        QueueName::Deferred,
    );
    let d = put("y@remote.test", None, None, QueueName::Deferred);
    let e = put("e@example.org", None, None, QueueName::Remote);
    let all = |_: &QueueHead<'_>| true;
    let mine = ["example.org".to_string()];
    let view = QueueView {
        keep: &all,
        domains: Some(&mine),
        text: None,
    };
    let ids = |records: Vec<QueueRecord>| records.iter().map(|r| r.id).collect::<Vec<_>>();
    let read = |queue, start, limit| {
        let (total, page) = store.queue_view(queue, &view, start, limit).unwrap();
        (total, ids(page))
    };
    let deferred = QueueName::Deferred;
    assert_eq!(
        read(deferred, PageStart::Offset(0), 10),
        (3, vec![a.id, b.id, c.id])
    );
    assert_eq!(read(deferred, PageStart::Offset(1), 1), (3, vec![b.id]));
    assert_eq!(read(deferred, PageStart::After(a.id), 1), (3, vec![b.id]));
    assert_eq!(read(deferred, PageStart::After(c.id), 10), (3, vec![]));
    assert_eq!(
        read(QueueName::Remote, PageStart::Offset(0), 10),
        (1, vec![e.id])
    );
    assert_eq!(
        store.queue_view_ids(deferred, &view, 10).unwrap(),
        vec![a.id, b.id, c.id]
    );
    assert_eq!(
        store.queue_view_ids(deferred, &view, 2).unwrap(),
        vec![a.id, b.id]
    );
    // Pages are whole records, placed in their queue.
    let (_, page) = store
        .queue_view(deferred, &view, PageStart::Offset(0), 1)
        .unwrap();
    assert_eq!(page, vec![a.clone()]);
    // Keyset pages of the whole queue.
    assert_eq!(
        ids(store.queue_page_after(deferred, a.id, 2).unwrap()),
        vec![b.id, c.id]
    );
    assert_eq!(
        ids(store.queue_page_after(deferred, 0, 10).unwrap()),
        vec![a.id, b.id, c.id, d.id]
    );
    assert!(store
        .queue_page_after(deferred, u64::MAX, 10)
        .unwrap()
        .is_empty());
    // The text hint: only d holds "y@remote"; an unrestricted view that keeps everything
    // still finds nothing else.
    let hinted = QueueView {
        keep: &all,
        domains: None,
        text: Some("y@remote"),
    };
    let (total, page) = store
        .queue_view(deferred, &hinted, PageStart::Offset(0), 10)
        .unwrap();
    assert_eq!((total, ids(page)), (1, vec![d.id]));
    assert_eq!(store.queue_index_problems().unwrap(), Vec::<String>::new());

    // Moves, replacements and deletions carry the entries along.
    store.0.queue_move(a.id, deferred, QueueName::Bad).unwrap();
    assert_eq!(
        read(QueueName::Bad, PageStart::Offset(0), 10),
        (1, vec![a.id])
    );
    store.0.queue_delete(deferred, c.id).unwrap();
    let mut other = b.clone();
    other.id = store.next_queue_id().unwrap();
    other.auth_as = None;
    store.0.queue_replace(deferred, b.id, &[other]).unwrap();
    assert_eq!(read(deferred, PageStart::Offset(0), 10), (0, vec![]));
    let mut back = d.clone();
    back.recipients = vec![QueueRecipient::new("z@example.org")];
    store.0.queue_put(&back).unwrap();
    assert_eq!(read(deferred, PageStart::Offset(0), 10), (1, vec![d.id]));
    assert_eq!(store.queue_index_problems().unwrap(), Vec::<String>::new());
    let report = crate::storage::check::check(&store).unwrap();
    assert!(
        report.queue_index.is_empty() && report.ok(),
        "{}",
        report.render()
    );
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
    // Pages of a queue: the list cut at offset and limit, in id order, and nothing past
    // its end.
    let recs: Vec<QueueRecord> = (0..7)
        .map(|i| {
            let r = record(&store, QueueName::Deferred, format!("page {i}").as_bytes());
            store.0.queue_put(&r).unwrap();
            r
        })
        .collect();
    assert_eq!(store.queue_list(QueueName::Deferred).unwrap(), recs);
    // Every cut, in the first half and the second (the embedded backend reads the second
    // from the end) and past the end.
    let cuts = (0..=8).flat_map(|o| [0, 1, 2, 3, 6, 7, 100].map(|l| (o, l)));
    for (offset, limit) in cuts {
        let want: Vec<QueueRecord> = recs.iter().skip(offset).take(limit).cloned().collect();
        let got = store
            .queue_page(QueueName::Deferred, offset, limit)
            .unwrap();
        assert_eq!(got, want, "page at {offset}, {limit} records");
    }
    for r in &recs {
        store.0.queue_delete(QueueName::Deferred, r.id).unwrap();
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

    // Two routings of one record at once (the inbound queue restarted while its first
    // routing still ran on a blocking thread): one replaces it, the other gets Conflict and
    // writes nothing, so the message is not routed twice.
    let rec = record(&store, QueueName::Inbound, b"route me once");
    store.0.queue_put(&rec).unwrap();
    let successor = |queue| {
        let mut r = rec.clone();
        r.id = store.next_queue_id().unwrap();
        r.queue = queue;
        r
    };
    let (first, second) = (successor(QueueName::Local), successor(QueueName::Local));
    let results = std::thread::scope(|s| {
        let runs: Vec<_> = [&first, &second]
            .into_iter()
            .map(|r| {
                let store = &store;
                s.spawn(move || {
                    store
                        .0
                        .queue_replace(QueueName::Inbound, rec.id, std::slice::from_ref(r))
                })
            })
            .collect();
        runs.into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let won: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(StorageError::Conflict(_)))),
        "{results:?}"
    );
    let kept = [&first, &second]
        .iter()
        .filter(|r| store.queue_get(QueueName::Local, r.id).unwrap().is_some())
        .count();
    assert_eq!(kept, 1, "exactly one routing's record is kept");
    assert_eq!(store.queue_get(QueueName::Inbound, rec.id).unwrap(), None);
    assert_eq!(store.blob_refcount(&rec.blob).unwrap(), 1);
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

/// The start-up sweep after a crash lost or cut bodies: records in the queues that deliver
/// go to the bad queue with the reason, still holding their bodies; an old unreferenced file
/// goes, a young one stays; a second sweep finds nothing to do.
pub fn sweep_sends_damaged_queue_records_to_bad(open: Open) {
    let dir = DataDir::make();
    let (lost, cut, fine, old, young) = {
        let store = open(dir.path()).expect("open the backend");
        let lost = record(&store, QueueName::Inbound, b"Subject: lost\r\n\r\nbody\r\n");
        let cut = record(
            &store,
            QueueName::Remote,
            b"Subject: cut\r\n\r\ncut in half\r\n",
        );
        let fine = record(&store, QueueName::Remote, b"Subject: fine\r\n\r\nfine\r\n");
        for rec in [&lost, &cut, &fine] {
            store.0.queue_put(rec).unwrap();
        }
        let old = body(&store, b"an old orphan");
        let young = body(&store, b"a young orphan");
        store.commit().unwrap();
        std::fs::remove_file(store.blobs().path(&lost.blob)).unwrap();
        let file = File::options()
            .write(true)
            .open(store.blobs().path(&cut.blob))
            .unwrap();
        file.set_len(10).unwrap();
        File::options()
            .write(true)
            .open(store.blobs().path(&old))
            .unwrap()
            .set_modified(SystemTime::now() - 2 * ORPHAN_GRACE)
            .unwrap();
        (lost, cut, fine, old, young)
    };
    let store = open(dir.path()).expect("reopen the backend");
    let report = store.sweep(ORPHAN_GRACE).unwrap();
    assert_eq!(
        report,
        SweepReport {
            queue_records_damaged: 2,
            orphans_removed: 1,
            orphans_kept: 1,
            ..SweepReport::default()
        }
    );
    assert!(store.queue_list(QueueName::Inbound).unwrap().is_empty());
    assert_eq!(store.queue_list(QueueName::Remote).unwrap(), vec![fine]);
    let bad = store.queue_list(QueueName::Bad).unwrap();
    let ids: Vec<_> = bad.iter().map(|r| r.id).collect();
    assert_eq!(ids, [lost.id, cut.id]);
    let reason = |i: usize| bad[i].last_error.clone().unwrap_or_default();
    assert!(reason(0).contains("is missing"), "{}", reason(0));
    assert!(reason(1).contains("has 10 of its"), "{}", reason(1));
    assert_eq!(store.blob_refcount(&lost.blob).unwrap(), 1);
    assert_eq!(store.blob_refcount(&cut.blob).unwrap(), 1);
    assert!(!store.blobs().exists(&old));
    assert!(store.blobs().exists(&young));
    let again = store.sweep(Duration::ZERO).unwrap();
    assert_eq!(again.queue_records_damaged, 0, "{again:?}");
    assert_eq!(
        again.orphans_removed, 1,
        "the young orphan, with no grace: {again:?}"
    );
    assert!(!store.blobs().exists(&young));
}
