use super::super::testutil::record;
use super::super::testutil::store_with_bob;
use super::*;
use crate::storage::QueueRecord;
#[allow(unused_imports)]
use crate::storage::*;

const BOB: &str = "bob@example.com";

fn inbox(store: &SledStore) -> FolderId {
    store.folder_id(BOB, "INBOX").unwrap().unwrap()
}

fn new_message(store: &SledStore, body: &[u8]) -> NewMessage {
    NewMessage {
        blob: store.blobs().put(body).unwrap(),
        size: body.len() as u64,
        flags: Flags::default(),
        internal_date: 1_700_000_000,
    }
}

#[test]
fn flags_helpers() {
    let mut f = Flags::system(Flags::SEEN | Flags::FLAGGED);
    assert!(f.has(Flags::SEEN) && !f.has(Flags::DELETED));
    f.set(Flags::DELETED, true);
    f.set(Flags::SEEN, false);
    assert_eq!(f.system, Flags::FLAGGED | Flags::DELETED);
    f.add_keyword("$Forwarded");
    f.add_keyword("$forwarded");
    assert_eq!(f.keywords, vec!["$Forwarded"]);
    assert!(f.has_keyword("$FORWARDED"));
    assert_eq!(f.names(), vec!["\\Flagged", "\\Deleted", "$Forwarded"]);
    f.remove_keyword("$FORWARDED");
    assert!(f.keywords.is_empty());
}

#[test]
fn create_folder_and_look_it_up() {
    let (_dir, store) = store_with_bob();
    let id = store.create_folder(BOB, "Lists/rust", None).unwrap();
    let st = store.folder_state(id).unwrap();
    assert_eq!(st.id, id);
    assert_eq!(st.account, BOB);
    assert_eq!(st.name, "Lists/rust");
    assert_eq!((st.uidnext, st.highest_modseq, st.exists), (1, 1, 0));
    assert!(st.subscribed && st.uidvalidity > 0);
    assert_eq!(
        store.folder_id("BOB@example.com", "Lists/rust").unwrap(),
        Some(id)
    );
    assert_eq!(
        store.folder_id(BOB, "lists/rust").unwrap(),
        None,
        "case-sensitive"
    );
    assert_eq!(store.folder_id(BOB, "InBoX").unwrap(), Some(inbox(&store)));
    // 6 default folders + "Lists/rust" + its parent "Lists", created with it (RFC 9051 §6.3.4).
    assert_eq!(store.list_folders(BOB).unwrap().len(), 8);

    let with_use = store
        .create_folder(BOB, "Important", Some("\\Important"))
        .unwrap();
    assert_eq!(
        store.folder_state(with_use).unwrap().special_use.as_deref(),
        Some("\\Important")
    );
}

#[test]
fn create_folder_errors() {
    let (_dir, store) = store_with_bob();
    let err = store.create_folder(BOB, "Sent", None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "folder Sent of bob@example.com already exists"
    );
    assert!(matches!(
        store.create_folder(BOB, "inbox", None),
        Err(StorageError::Exists(_))
    ));
    let err = store
        .create_folder("nobody@example.com", "X", None)
        .unwrap_err();
    assert_eq!(err.to_string(), "account nobody@example.com not found");
    assert!(matches!(
        store.create_folder(BOB, "", None),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        store.create_folder(BOB, "a\nb", None),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        store.create_folder(BOB, "X", Some("Sent")),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        store.folder_state(999_999),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        store.list_folders("nobody@example.com"),
        Err(StorageError::NotFound(_))
    ));
}

#[test]
fn append_assigns_uids_and_modseqs() {
    let (_dir, store) = store_with_bob();
    let folder = inbox(&store);
    let mut m1 = new_message(&store, b"one");
    m1.flags = Flags::system(Flags::SEEN);
    let m2 = new_message(&store, b"two");
    assert_eq!(
        store.append_message(folder, m1.clone(), None).unwrap(),
        (1, 2)
    );
    assert_eq!(
        store.append_message(folder, m2.clone(), None).unwrap(),
        (2, 3)
    );
    let st = store.folder_state(folder).unwrap();
    assert_eq!((st.uidnext, st.highest_modseq, st.exists), (3, 3, 2));
    let msgs = store.list_messages(folder).unwrap();
    assert_eq!(msgs.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(
        msgs[0],
        MessageRecord {
            uid: 1,
            flags: Flags::system(Flags::SEEN),
            size: 3,
            internal_date: 1_700_000_000,
            blob: m1.blob,
            modseq: 2,
            save_date: msgs[0].save_date,
        }
    );
    assert_eq!(store.get_message(folder, 2).unwrap().unwrap().blob, m2.blob);
    assert_eq!(store.get_message(folder, 3).unwrap(), None);
    assert_eq!(store.blob_refcount(&m1.blob).unwrap(), 1);
}

#[test]
fn append_errors_leave_the_folder_unchanged() {
    let (_dir, store) = store_with_bob();
    let folder = inbox(&store);
    let before = store.folder_state(folder).unwrap();
    let ghost = NewMessage {
        blob: BlobId::of(b"never stored"),
        size: 1,
        flags: Flags::default(),
        internal_date: 0,
    };
    assert!(matches!(
        store.append_message(folder, ghost, None),
        Err(StorageError::NotFound(_))
    ));
    let mut bad_flags = new_message(&store, b"x");
    bad_flags.flags.system = 0x80;
    assert!(matches!(
        store.append_message(folder, bad_flags.clone(), None),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        store.append_message(424_242, new_message(&store, b"x"), None),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(store.folder_state(folder).unwrap(), before);
    assert!(store.list_messages(folder).unwrap().is_empty());
}

fn queued_for_two(store: &SledStore) -> QueueRecord {
    let rec = record(
        store,
        QueueName::Local,
        b"for two",
        &[BOB, "alice@example.com"],
    );
    store.queue_put(&rec).unwrap();
    rec
}

#[test]
fn append_with_consume_is_exactly_once() {
    let (_dir, store) = store_with_bob();
    let folder = inbox(&store);
    let rec = queued_for_two(&store);
    let msg = NewMessage {
        blob: rec.blob,
        size: rec.size,
        flags: Flags::default(),
        internal_date: rec.received_at,
    };
    let consume = Some((QueueName::Local, rec.id, 0));
    store.append_message(folder, msg.clone(), consume).unwrap();
    let left = store.queue_get(QueueName::Local, rec.id).unwrap().unwrap();
    assert!(left.recipients[0].delivered && !left.recipients[1].delivered);
    assert_eq!(store.blob_refcount(&rec.blob).unwrap(), 2);

    // A retry of the same delivery: Conflict, and the folder is unchanged.
    let before = store.folder_state(folder).unwrap();
    let err = store
        .append_message(folder, msg.clone(), consume)
        .unwrap_err();
    assert!(matches!(err, StorageError::Conflict(_)));
    assert_eq!(
        err.to_string(),
        format!(
            "recipient bob@example.com of queue record {} was already delivered",
            rec.id
        )
    );
    assert_eq!(store.folder_state(folder).unwrap(), before);
    assert_eq!(store.list_messages(folder).unwrap().len(), 1);
    assert_eq!(store.blob_refcount(&rec.blob).unwrap(), 2);

    // Unknown recipient index: Conflict too; a record not in the queue: Gone.
    assert!(matches!(
        store.append_message(folder, msg.clone(), Some((QueueName::Local, rec.id, 7))),
        Err(StorageError::Conflict(_))
    ));
    assert!(matches!(
        store.append_message(folder, msg.clone(), Some((QueueName::Remote, rec.id, 1))),
        Err(StorageError::Gone(_))
    ));

    // The last recipient removes the record; the blob stays referenced by the two messages.
    store
        .create_folder("bob@example.com", "Copy", None)
        .unwrap();
    let other = store.folder_id(BOB, "Copy").unwrap().unwrap();
    store
        .append_message(other, msg.clone(), Some((QueueName::Local, rec.id, 1)))
        .unwrap();
    assert_eq!(store.queue_get(QueueName::Local, rec.id).unwrap(), None);
    assert_eq!(store.blob_refcount(&rec.blob).unwrap(), 2);
    let err = store
        .append_message(other, msg, Some((QueueName::Local, rec.id, 1)))
        .unwrap_err();
    assert!(matches!(err, StorageError::Gone(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("queue record {} is not in the local queue", rec.id)
    );
    assert_eq!(store.list_messages(other).unwrap().len(), 1);
}

#[test]
fn set_flags_bumps_modseq_only_on_change() {
    let (_dir, store) = store_with_bob();
    let folder = inbox(&store);
    store
        .append_message(folder, new_message(&store, b"a"), None)
        .unwrap();
    store
        .append_message(folder, new_message(&store, b"b"), None)
        .unwrap();
    let mut flags = Flags::system(Flags::SEEN | Flags::ANSWERED);
    flags.add_keyword("$Label1");
    let modseq = store.set_flags(folder, 1, flags.clone()).unwrap();
    assert_eq!(modseq, 4);
    let m = store.get_message(folder, 1).unwrap().unwrap();
    assert_eq!((m.flags, m.modseq), (flags.clone(), 4));
    assert_eq!(store.folder_state(folder).unwrap().highest_modseq, 4);
    assert_eq!(store.set_flags(folder, 1, flags).unwrap(), 4, "unchanged");
    assert_eq!(store.folder_state(folder).unwrap().highest_modseq, 4);

    let err = store.set_flags(folder, 9, Flags::default()).unwrap_err();
    assert!(matches!(err, StorageError::NotFound(_)));
    let mut bad = Flags::default();
    bad.keywords.push("\\Seen".into());
    assert!(matches!(
        store.set_flags(folder, 1, bad),
        Err(StorageError::Invalid(_))
    ));
}

#[test]
fn expunge_releases_blobs_and_never_reuses_uids() {
    let (_dir, store) = store_with_bob();
    let folder = inbox(&store);
    let a = new_message(&store, b"a");
    let shared = new_message(&store, b"shared");
    store.append_message(folder, a.clone(), None).unwrap();
    store.append_message(folder, shared.clone(), None).unwrap();
    store.append_message(folder, shared.clone(), None).unwrap();
    assert_eq!(store.blob_refcount(&shared.blob).unwrap(), 2);

    let modseq = store.expunge(folder, &[1, 2, 42]).unwrap();
    assert_eq!(modseq, 5);
    let st = store.folder_state(folder).unwrap();
    assert_eq!((st.exists, st.highest_modseq, st.uidnext), (1, 5, 4));
    super::super::testutil::settle(&store);
    assert!(
        !store.blobs().exists(&a.blob),
        "last reference gone: file removed"
    );
    assert!(store.blobs().exists(&shared.blob), "uid 3 still holds it");
    assert_eq!(store.blob_refcount(&shared.blob).unwrap(), 1);
    assert_eq!(store.expunged_since(folder, 4).unwrap(), vec![1, 2]);
    assert!(store.expunged_since(folder, 5).unwrap().is_empty());

    // Nothing to expunge: modseq unchanged.
    assert_eq!(store.expunge(folder, &[1]).unwrap(), 5);

    // A collected blob cannot be referenced again until it is stored again.
    assert!(matches!(
        store.append_message(folder, a.clone(), None),
        Err(StorageError::NotFound(_))
    ));
    let again = new_message(&store, b"a");
    let (uid, _) = store.append_message(folder, again, None).unwrap();
    assert_eq!(uid, 4, "uids are not reused");
}

#[test]
fn delete_folder_removes_messages_and_name() {
    let (_dir, store) = store_with_bob();
    let id = store.create_folder(BOB, "Old", None).unwrap();
    let msg = new_message(&store, b"old mail");
    store.append_message(id, msg.clone(), None).unwrap();
    store
        .append_message(id, new_message(&store, b"more"), None)
        .unwrap();
    store.expunge(id, &[2]).unwrap();
    let uidvalidity = store.folder_state(id).unwrap().uidvalidity;
    store.delete_folder(id).unwrap();
    assert!(matches!(
        store.folder_state(id),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(store.folder_id(BOB, "Old").unwrap(), None);
    super::super::testutil::settle(&store);
    assert!(!store.blobs().exists(&msg.blob));
    assert_eq!(store.tree(TreeIx::Expunged).len(), 0);
    assert!(matches!(
        store.list_messages(id),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_folder(id),
        Err(StorageError::NotFound(_))
    ));

    // Re-created: a new UIDVALIDITY, never an old one.
    let again = store.create_folder(BOB, "Old", None).unwrap();
    assert!(store.folder_state(again).unwrap().uidvalidity > uidvalidity);

    let err = store.delete_folder(inbox(&store)).unwrap_err();
    assert!(matches!(err, StorageError::Invalid(_)));
    assert_eq!(err.to_string(), "INBOX cannot be deleted");
}

#[test]
fn rename_and_subscribe() {
    let (_dir, store) = store_with_bob();
    let id = store.create_folder(BOB, "A", None).unwrap();
    let before = store.folder_state(id).unwrap();
    store.rename_folder(id, "B").unwrap();
    assert_eq!(store.folder_id(BOB, "A").unwrap(), None);
    assert_eq!(store.folder_id(BOB, "B").unwrap(), Some(id));
    let after = store.folder_state(id).unwrap();
    assert_eq!(
        (after.name.as_str(), after.uidvalidity),
        ("B", before.uidvalidity)
    );
    assert!(matches!(
        store.rename_folder(id, "Sent"),
        Err(StorageError::Exists(_))
    ));
    assert!(matches!(
        store.rename_folder(inbox(&store), "X"),
        Err(StorageError::Invalid(_))
    ));
    store.set_subscribed(id, false).unwrap();
    assert!(!store.folder_state(id).unwrap().subscribed);
}

#[test]
fn concurrent_appends_get_distinct_uids() {
    let (_dir, store) = store_with_bob();
    let folder = inbox(&store);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        let msg = new_message(&store, format!("{t}-{i}").as_bytes());
                        store.append_message(folder, msg, None).unwrap().0
                    })
                    .collect::<Vec<u32>>()
            })
        })
        .collect();
    let mut uids: Vec<u32> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    uids.sort();
    assert_eq!(uids, (1..=200).collect::<Vec<u32>>());
    let st = store.folder_state(folder).unwrap();
    assert_eq!((st.exists, st.uidnext, st.highest_modseq), (200, 201, 201));
}

#[test]
fn folders_persist_across_reopen() {
    let dir = tempfile::TempDir::new().unwrap();
    let (folder, before, blob) = {
        crate::storage::set_fast_password_hashing_for_tests(true);
        let store = SledStore::open(dir.path()).unwrap();
        store.add_domain("example.com").unwrap();
        store.add_account(BOB, "pw", false).unwrap();
        let folder = inbox(&store);
        let msg = new_message(&store, b"keep me");
        store.append_message(folder, msg.clone(), None).unwrap();
        store
            .append_message(folder, new_message(&store, b"drop me"), None)
            .unwrap();
        store.expunge(folder, &[2]).unwrap();
        store.commit().unwrap();
        (folder, store.folder_state(folder).unwrap(), msg.blob)
    };
    let store = SledStore::open(dir.path()).unwrap();
    let after = store.folder_state(folder).unwrap();
    assert_eq!(
        after, before,
        "uidvalidity, uidnext, modseq stable across reopen"
    );
    assert_eq!(store.folder_id(BOB, "inbox").unwrap(), Some(folder));
    let msgs = store.list_messages(folder).unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(store.blobs().get(&msgs[0].blob).unwrap(), b"keep me");
    assert_eq!(msgs[0].blob, blob);
    let (uid, _) = store
        .append_message(folder, new_message(&store, b"new"), None)
        .unwrap();
    assert_eq!(
        uid, 3,
        "uid 2 was expunged before the restart and stays used"
    );
    let fresh = store.create_folder(BOB, "New", None).unwrap();
    let all: Vec<u32> = store
        .list_folders(BOB)
        .unwrap()
        .iter()
        .map(|f| f.uidvalidity)
        .collect();
    assert_eq!(
        all.iter()
            .filter(|v| **v == store.folder_state(fresh).unwrap().uidvalidity)
            .count(),
        1
    );
}

#[test]
fn delete_folder_while_appends_run_leaves_no_orphans() {
    let (_dir, store) = store_with_bob();
    let id = store.create_folder(BOB, "Busy", None).unwrap();
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            let mut appended = 0;
            for i in 0..200 {
                let msg = new_message(&store, format!("busy {i}").as_bytes());
                match store.append_message(id, msg, None) {
                    Ok(_) => appended += 1,
                    Err(StorageError::NotFound(_)) => break, // the folder is gone
                    Err(e) => panic!("{e}"),
                }
            }
            appended
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(5));
    store.delete_folder(id).unwrap();
    writer.join().unwrap();
    assert_eq!(
        store
            .tree(TreeIx::Messages)
            .scan_prefix(id.to_be_bytes())
            .count(),
        0
    );
    // Every blob still referenced is held by a message; none held by the deleted folder.
    assert_eq!(store.tree(TreeIx::BlobRefs).len(), 0);
}

/// SAVEDATE (RFC 8514): a message gets the time it was put in its folder; a record written
/// before save dates were stored (five fields) still reads, with its internal date as the
/// save date.
#[test]
fn save_dates_are_stored_and_old_records_still_read() {
    #[derive(serde::Serialize)]
    struct OldValue {
        flags: Flags,
        size: u64,
        internal_date: i64,
        blob: crate::storage::blobs::BlobId,
        modseq: u64,
    }
    let (_dir, store) = store_with_bob();
    let folder = inbox(&store);
    let before = crate::storage::now_secs() as i64;
    let m = new_message(&store, b"abc");
    let (uid, _) = store.append_message(folder, m.clone(), None).unwrap();
    let after = crate::storage::now_secs() as i64;
    let rec = store.get_message(folder, uid).unwrap().unwrap();
    assert_eq!(rec.internal_date, 1_700_000_000);
    assert!(
        (before..=after).contains(&rec.save_date),
        "{}",
        rec.save_date
    );

    // The same message as appended (flags, size, blob), so the folder's counters stay right.
    let old = OldValue {
        flags: Flags::default(),
        size: 3,
        internal_date: 1_500_000_000,
        blob: m.blob,
        modseq: 9,
    };
    let bytes = bincode::serialize(&old).unwrap();
    let value: MessageValue = keys::decode(&bytes, "message").unwrap();
    assert_eq!(value.save_date, None);
    let rec = value.record(7);
    assert_eq!(
        (rec.uid, rec.modseq, rec.size, rec.flags.system),
        (7, 9, 3, 0)
    );
    assert_eq!(rec.save_date, 1_500_000_000);
    // Such a record in the index reads with its internal date; COPY and MOVE give the
    // copy the time it arrived in its new folder.
    store
        .tree(TreeIx::Messages)
        .insert(message_key(folder, uid), bytes.clone())
        .unwrap();
    let rec = store.get_message(folder, uid).unwrap().unwrap();
    assert_eq!(
        (rec.internal_date, rec.save_date),
        (1_500_000_000, 1_500_000_000)
    );
    let archive = store.folder_id(BOB, "Archive").unwrap().unwrap();
    let before = crate::storage::now_secs() as i64;
    let pairs = store.copy_messages(folder, &[uid], archive).unwrap();
    let (moved, _) = store.move_messages(folder, &[uid], archive).unwrap();
    let after = crate::storage::now_secs() as i64;
    for (_, new) in pairs.iter().chain(&moved) {
        let rec = store.get_message(archive, *new).unwrap().unwrap();
        assert_eq!(rec.internal_date, 1_500_000_000);
        assert!(
            (before..=after).contains(&rec.save_date),
            "{}",
            rec.save_date
        );
    }
    // And a new value round-trips with its save date.
    let mut new = keys::decode::<MessageValue>(&bytes, "message").unwrap();
    new.save_date = Some(1_700_000_000);
    let again: MessageValue = keys::decode(&keys::encode(&new).unwrap(), "message").unwrap();
    assert_eq!(again.save_date, Some(1_700_000_000));
}

/// POP3's UPDATE: \Seen and the expunge in one transaction; an error between them (the
/// fault hook's place) leaves neither.
#[test]
fn update_maildrop_is_all_or_nothing() {
    let (_dir, store) = store_with_bob();
    let folder = inbox(&store);
    for body in [&b"one"[..], b"two", b"three"] {
        let m = new_message(&store, body);
        store.append_message(folder, m, None).unwrap();
    }
    let err = store
        .update_maildrop(folder, &[2], &[1], || {
            Err(StorageError::Invalid("fault injected".into()))
        })
        .unwrap_err();
    assert!(matches!(err, StorageError::Invalid(_)), "{err:?}");
    let messages = store.list_messages(folder).unwrap();
    assert_eq!(messages.len(), 3, "nothing expunged");
    assert!(
        messages.iter().all(|m| !m.flags.has(Flags::SEEN)),
        "nothing flagged"
    );

    let (flagged, modseq) = store
        .update_maildrop(folder, &[2], &[1], || Ok(()))
        .unwrap();
    assert_eq!(flagged.changed.len(), 1);
    assert_eq!(flagged.changed[0].0, 2);
    let messages = store.list_messages(folder).unwrap();
    assert_eq!(messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [2, 3]);
    assert!(messages[0].flags.has(Flags::SEEN));
    assert_eq!(store.expunged_since(folder, modseq - 1).unwrap(), [1]);
}

/// DELETE of a subscribed folder: the folder goes and its name lands on the owner's
/// subscription list, in the one transaction (RFC 3501 §6.3.6).
#[test]
fn deleting_a_subscribed_folder_keeps_the_subscription() {
    let (_dir, store) = store_with_bob();
    let id = store.create_folder(BOB, "Old", None).unwrap();
    store.set_subscribed(id, true).unwrap();
    let m = new_message(&store, b"old");
    store.append_message(id, m, None).unwrap();
    store.delete_folder(id).unwrap();
    assert_eq!(store.folder_id(BOB, "Old").unwrap(), None);
    assert!(store
        .subscriptions(BOB)
        .unwrap()
        .contains(&"Old".to_string()));
}
