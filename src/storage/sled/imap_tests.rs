//! Tests of what the IMAP server needs from storage: counters, STORE, COPY/MOVE, quota, ACL,
//! hierarchy, public folders, \Recent, expunge history, keywords and a large folder.

use super::keys::TreeIx;
use super::testutil::store_with_bob;
use super::*;
#[allow(unused_imports)]
use crate::storage::*;

const BOB: &str = "bob@example.com";
const ALICE: &str = "alice@example.com";

fn inbox(store: &SledStore, account: &str) -> FolderId {
    store.folder_id(account, "INBOX").unwrap().unwrap()
}

fn msg(store: &SledStore, body: &[u8], flags: u8) -> NewMessage {
    NewMessage {
        blob: store.blobs().put(body).unwrap(),
        size: body.len() as u64,
        flags: Flags::system(flags),
        internal_date: 1_700_000_000,
    }
}

fn with_alice() -> (tempfile::TempDir, SledStore) {
    let (dir, store) = store_with_bob();
    store.add_account(ALICE, "pw", false).unwrap();
    (dir, store)
}

fn counters(store: &SledStore, f: FolderId) -> (u32, u32, u32, u64) {
    let s = store.folder_state(f).unwrap();
    (s.exists, s.unseen, s.deleted, s.size)
}

fn keyword(k: &str) -> Flags {
    let mut f = Flags::default();
    f.add_keyword(k);
    f
}

#[test]
fn counters_follow_append_flags_and_expunge() {
    let (_dir, store) = store_with_bob();
    let f = inbox(&store, BOB);
    store
        .append_message(f, msg(&store, b"aaa", 0), None)
        .unwrap();
    store
        .append_message(f, msg(&store, b"bbbbb", Flags::SEEN), None)
        .unwrap();
    store
        .append_message(f, msg(&store, b"c", Flags::DELETED), None)
        .unwrap();
    assert_eq!(counters(&store, f), (3, 2, 1, 9));
    store
        .set_flags(f, 1, Flags::system(Flags::SEEN | Flags::DELETED))
        .unwrap();
    assert_eq!(counters(&store, f), (3, 1, 2, 9));
    store.expunge(f, &[1, 3]).unwrap();
    assert_eq!(counters(&store, f), (1, 0, 0, 5));
    assert_eq!(store.message_count(f).unwrap(), 1);
    assert_eq!(store.uid_list(f).unwrap(), vec![2]);
}

#[test]
fn store_flags_modes_and_one_modseq() {
    let (_dir, store) = store_with_bob();
    let f = inbox(&store, BOB);
    for body in [b"1", b"2", b"3"] {
        store.append_message(f, msg(&store, body, 0), None).unwrap();
    }
    // modseq is now 4. +FLAGS \Seen $Work on 1..3 and a missing uid.
    let mut add = Flags::system(Flags::SEEN);
    add.add_keyword("$Work");
    let r = store
        .store_flags(f, &[3, 1, 2, 99, 1], FlagMode::Add, &add, None)
        .unwrap();
    assert_eq!(
        r.changed.iter().map(|c| (c.0, c.2)).collect::<Vec<_>>(),
        vec![(1, 5), (2, 5), (3, 5)],
        "ascending, one new modseq for the whole STORE"
    );
    assert_eq!(r.changed[0].1, add);
    assert!(r.modified.is_empty());
    assert_eq!(r.highest_modseq, 5);
    assert_eq!(counters(&store, f).1, 0, "all seen");
    assert_eq!(store.folder_keywords(f).unwrap(), vec!["$Work"]);

    // Adding again changes nothing: no new modseq.
    let r = store
        .store_flags(f, &[1, 2, 3], FlagMode::Add, &add, None)
        .unwrap();
    assert!(r.changed.is_empty());
    assert_eq!(store.folder_state(f).unwrap().highest_modseq, 5);

    // -FLAGS \Seen on 2 only.
    let r = store
        .store_flags(f, &[2], FlagMode::Remove, &Flags::system(Flags::SEEN), None)
        .unwrap();
    assert_eq!(r.changed, vec![(2, keyword("$Work"), 6)]);
    assert_eq!(counters(&store, f).1, 1);

    // UNCHANGEDSINCE 5: uid 2 (modseq 6) is MODIFIED and left alone, 1 and 3 change.
    let r = store
        .store_flags(
            f,
            &[1, 2, 3],
            FlagMode::Replace,
            &Flags::system(Flags::DELETED),
            Some(5),
        )
        .unwrap();
    assert_eq!(r.modified, vec![2]);
    assert_eq!(
        r.changed,
        vec![
            (1, Flags::system(Flags::DELETED), 7),
            (3, Flags::system(Flags::DELETED), 7)
        ]
    );
    assert_eq!(
        store.get_message(f, 2).unwrap().unwrap().flags,
        keyword("$Work")
    );
    assert_eq!(counters(&store, f), (3, 3, 2, 3));
    assert_eq!(
        store.folder_keywords(f).unwrap(),
        vec!["$Work"],
        "kept once seen"
    );

    // Replace with the same set in another order and case: unchanged.
    let mut two = keyword("$B");
    two.add_keyword("$a");
    store
        .store_flags(f, &[2], FlagMode::Replace, &two, None)
        .unwrap();
    let mut swapped = keyword("$A");
    swapped.add_keyword("$b");
    let r = store
        .store_flags(f, &[2], FlagMode::Replace, &swapped, None)
        .unwrap();
    assert!(r.changed.is_empty());

    // Errors: bad flags, unknown folder.
    let mut bad = Flags::default();
    bad.keywords.push("has space".into());
    assert!(matches!(
        store.store_flags(f, &[1], FlagMode::Add, &bad, None),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        store.store_flags(999_999, &[1], FlagMode::Add, &add, None),
        Err(StorageError::NotFound(_))
    ));
}

#[test]
fn copy_keeps_flags_dates_and_counts_references() {
    let (_dir, store) = store_with_bob();
    let f = inbox(&store, BOB);
    let archive = store.folder_id(BOB, "Archive").unwrap().unwrap();
    let a = msg(&store, b"first", Flags::SEEN);
    store.append_message(f, a.clone(), None).unwrap();
    store
        .append_message(f, msg(&store, b"second", 0), None)
        .unwrap();
    store
        .append_message(archive, msg(&store, b"x", 0), None)
        .unwrap();
    let pairs = store.copy_messages(f, &[2, 7, 1], archive).unwrap();
    assert_eq!(pairs, vec![(2, 2), (1, 3)], "given order, missing skipped");
    let copied = store.get_message(archive, 3).unwrap().unwrap();
    assert_eq!(copied.flags, Flags::system(Flags::SEEN));
    assert_eq!(copied.internal_date, 1_700_000_000);
    assert_eq!(copied.blob, a.blob);
    assert_eq!(store.blob_refcount(&a.blob).unwrap(), 2);
    assert_eq!(counters(&store, archive), (3, 2, 0, 12));
    assert_eq!(counters(&store, f), (2, 1, 0, 11), "source unchanged");
    let q = store.quota(BOB).unwrap();
    assert_eq!((q.messages_used, q.storage_used), (5, 23));
    assert!(matches!(
        store.copy_messages(f, &[1], 999_999),
        Err(StorageError::NotFound(_))
    ));
}

#[test]
fn move_is_copy_plus_expunge_in_one_transaction() {
    let (_dir, store) = store_with_bob();
    let f = inbox(&store, BOB);
    let trash = store.folder_id(BOB, "Trash").unwrap().unwrap();
    for body in [b"a", b"b", b"c"] {
        store.append_message(f, msg(&store, body, 0), None).unwrap();
    }
    let (pairs, modseq) = store.move_messages(f, &[1, 3], trash).unwrap();
    assert_eq!(pairs, vec![(1, 1), (3, 2)]);
    assert_eq!(modseq, 5);
    assert_eq!(store.folder_state(f).unwrap().highest_modseq, 5);
    assert_eq!(store.uid_list(f).unwrap(), vec![2]);
    assert_eq!(store.expunged_since(f, 4).unwrap(), vec![1, 3]);
    assert_eq!(counters(&store, trash), (2, 2, 0, 2));
    assert_eq!(
        store.quota(BOB).unwrap().messages_used,
        3,
        "moved, not copied"
    );
    assert_eq!(store.blob_refcount(&BlobId::of(b"a")).unwrap(), 1);

    // Move within one folder: new uids, the old ones expunged.
    let (pairs, _) = store.move_messages(trash, &[1], trash).unwrap();
    assert_eq!(pairs, vec![(1, 3)]);
    assert_eq!(store.uid_list(trash).unwrap(), vec![2, 3]);
}

#[test]
fn failing_move_leaves_both_folders_unchanged() {
    let (_dir, store) = with_alice();
    let f = inbox(&store, BOB);
    for body in [b"one", b"two"] {
        store.append_message(f, msg(&store, body, 0), None).unwrap();
    }
    // Into a shared folder of alice, who has no room left.
    let shared = store.create_folder(ALICE, "Shared", None).unwrap();
    store.set_quota(ALICE, Some(4), None).unwrap();
    let before = (
        store.folder_state(f).unwrap(),
        store.folder_state(shared).unwrap(),
    );
    let err = store.move_messages(f, &[1, 2], shared).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::OverQuota {
                resource: "STORAGE"
            }
        ),
        "{err}"
    );
    assert_eq!(
        (
            store.folder_state(f).unwrap(),
            store.folder_state(shared).unwrap()
        ),
        before
    );
    assert_eq!(store.uid_list(f).unwrap(), vec![1, 2]);
    assert!(store.expunged_since(f, 0).unwrap().is_empty());
    assert_eq!(store.quota(BOB).unwrap().messages_used, 2);
    assert_eq!(store.quota(ALICE).unwrap().messages_used, 0);

    // Into a \Noselect folder: Invalid, nothing moved.
    store.create_folder(BOB, "P/child", None).unwrap();
    let p = store.folder_id(BOB, "P").unwrap().unwrap();
    store.delete_folder(p).unwrap();
    assert!(matches!(
        store.move_messages(f, &[1], p),
        Err(StorageError::Invalid(_))
    ));
    assert_eq!(store.uid_list(f).unwrap(), vec![1, 2]);
    // Cross-account move that fits: usage moves with the messages.
    store.set_quota(ALICE, Some(3), Some(1)).unwrap();
    store.move_messages(f, &[1], shared).unwrap();
    assert_eq!(store.quota(ALICE).unwrap().storage_used, 3);
    assert_eq!(store.quota(BOB).unwrap().storage_used, 3);
    let err = store.copy_messages(f, &[2], shared).unwrap_err();
    assert!(matches!(err, StorageError::OverQuota { .. }), "{err}");
}

#[test]
fn quota_limits_append_copy_and_track_usage() {
    let (_dir, store) = store_with_bob();
    let f = inbox(&store, BOB);
    assert_eq!(store.quota(BOB).unwrap(), Quota::default());
    store.set_quota(BOB, Some(10), Some(3)).unwrap();
    store
        .append_message(f, msg(&store, b"12345", 0), None)
        .unwrap();
    store
        .append_message(f, msg(&store, b"1234", 0), None)
        .unwrap();
    let err = store
        .append_message(f, msg(&store, b"12", 0), None)
        .unwrap_err();
    assert!(matches!(
        err,
        StorageError::OverQuota {
            resource: "STORAGE"
        }
    ));
    assert_eq!(
        err.to_string(),
        "over quota: the STORAGE limit would be exceeded"
    );
    store.append_message(f, msg(&store, b"1", 0), None).unwrap();
    let err = store
        .append_message(f, msg(&store, b"", 0), None)
        .unwrap_err();
    assert!(matches!(
        err,
        StorageError::OverQuota {
            resource: "MESSAGE"
        }
    ));
    assert!(matches!(
        store.copy_messages(f, &[3], f),
        Err(StorageError::OverQuota { .. })
    ));
    assert!(matches!(
        store.append_messages(f, &[msg(&store, b"", 0)]),
        Err(StorageError::OverQuota { .. })
    ));
    assert_eq!(
        store.quota(BOB).unwrap(),
        Quota {
            storage_used: 10,
            storage_limit: Some(10),
            messages_used: 3,
            messages_limit: Some(3)
        }
    );
    // A move inside the account at the limit still works.
    let trash = store.folder_id(BOB, "Trash").unwrap().unwrap();
    store.move_messages(f, &[1], trash).unwrap();
    // Expunge and delete free usage.
    store.expunge(f, &[2]).unwrap();
    assert_eq!(store.quota(BOB).unwrap().storage_used, 6);
    let old = store.create_folder(BOB, "Old", None).unwrap();
    store.move_messages(f, &[3], old).unwrap();
    store.delete_folder(old).unwrap();
    assert_eq!(store.quota(BOB).unwrap().storage_used, 5);
    assert_eq!(store.quota(BOB).unwrap().messages_used, 1);
    // Lifting the limits.
    store.set_quota(BOB, None, None).unwrap();
    store
        .append_message(f, msg(&store, &[b'x'; 100], 0), None)
        .unwrap();
    // Errors.
    assert!(matches!(
        store.quota("nobody@example.com"),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        store.set_quota("nobody@example.com", None, None),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        store.set_quota(PUBLIC_OWNER, Some(1), None),
        Err(StorageError::Invalid(_))
    ));
}

#[test]
fn recompute_quota_repairs_usage() {
    let (_dir, store) = store_with_bob();
    let f = inbox(&store, BOB);
    store
        .append_message(f, msg(&store, b"abc", 0), None)
        .unwrap();
    store.set_quota(BOB, Some(1000), None).unwrap();
    // Corrupt the usage.
    store
        .transact(|tx| super::quota::tx_add_usage(tx, BOB, 500, 7))
        .unwrap();
    assert_eq!(store.quota(BOB).unwrap().messages_used, 8);
    let q = store.recompute_quota(BOB).unwrap();
    assert_eq!(
        (q.storage_used, q.messages_used, q.storage_limit),
        (3, 1, Some(1000))
    );
}

#[test]
fn acl_rights_normalised_and_errors() {
    let (_dir, store) = with_alice();
    let f = store.create_folder(BOB, "Team", None).unwrap();
    assert_eq!(normalize_rights("tslr").unwrap(), "lrst");
    assert_eq!(normalize_rights("cd").unwrap(), "kxte");
    assert_eq!(normalize_rights("").unwrap(), "");
    assert!(matches!(
        normalize_rights("lz"),
        Err(StorageError::Invalid(_))
    ));
    store.set_acl(f, "Alice@Example.com", "rl").unwrap();
    store.set_acl(f, "Anyone", "l").unwrap();
    assert_eq!(
        store.get_acl(f).unwrap(),
        vec![
            (ALICE.to_string(), "lr".to_string()),
            ("anyone".to_string(), "l".to_string())
        ]
    );
    store.set_acl(f, ALICE, "+sc").unwrap();
    assert_eq!(store.get_acl(f).unwrap()[0].1, "lrsk");
    store.set_acl(f, ALICE, "-k").unwrap();
    assert_eq!(store.get_acl(f).unwrap()[0].1, "lrs");
    assert_eq!(store.rights(f, ALICE).unwrap(), "lrs");
    assert_eq!(store.rights(f, "carol@example.com").unwrap(), "l");
    assert_eq!(store.rights(f, BOB).unwrap(), ALL_RIGHTS, "owner");
    store.delete_acl(f, "anyone").unwrap();
    assert_eq!(store.rights(f, "carol@example.com").unwrap(), "");
    store.set_acl(f, ALICE, "").unwrap();
    assert!(
        store.get_acl(f).unwrap().is_empty(),
        "empty rights remove the entry"
    );
    assert_eq!(store.tree(TreeIx::AclIndex).len(), 0);

    assert!(matches!(
        store.set_acl(f, ALICE, "lq"),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        store.set_acl(f, "-bob@example.com", "l"),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        store.set_acl(f, "no at sign", "l"),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        store.set_acl(999_999, ALICE, "l"),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        store.get_acl(999_999),
        Err(StorageError::NotFound(_))
    ));
}

#[test]
fn folders_visible_to_uses_the_index() {
    let (_dir, store) = with_alice();
    let team = store.create_folder(BOB, "Team", None).unwrap();
    let private = store.create_folder(BOB, "Private", None).unwrap();
    let news = store.create_folder(PUBLIC_OWNER, "News", None).unwrap();
    let own = store.create_folder(ALICE, "Mine", None).unwrap();
    store.set_acl(team, ALICE, "lr").unwrap();
    store.set_acl(private, ALICE, "r").unwrap(); // no "l": not visible
    store.set_acl(news, "anyone", "lr").unwrap();
    store.set_acl(own, "anyone", "l").unwrap(); // her own: not listed
    let names = |v: Vec<FolderState>| -> Vec<(String, String)> {
        v.into_iter().map(|s| (s.account, s.name)).collect()
    };
    assert_eq!(
        names(store.folders_visible_to(ALICE).unwrap()),
        vec![
            (String::new(), "News".to_string()),
            (BOB.to_string(), "Team".to_string())
        ]
    );
    assert_eq!(
        names(store.folders_visible_to(BOB).unwrap()),
        vec![
            (String::new(), "News".to_string()),
            (ALICE.to_string(), "Mine".to_string())
        ]
    );
    // Deleting a folder removes its entries; deleting an account removes its grants.
    store.delete_folder(team).unwrap();
    store.del_account(ALICE).unwrap();
    assert_eq!(names(store.folders_visible_to(BOB).unwrap()).len(), 1);
    assert!(store.get_acl(private).unwrap().is_empty());
    assert!(store.acl_folders_of(ALICE).unwrap().is_empty());
}

#[test]
fn new_folders_inherit_the_parent_acl() {
    let (_dir, store) = with_alice();
    let team = store.create_folder(BOB, "Team", None).unwrap();
    store.set_acl(team, ALICE, "lrs").unwrap();
    let deep = store.create_folder(BOB, "Team/2026/Q1", None).unwrap();
    let mid = store.folder_id(BOB, "Team/2026").unwrap().unwrap();
    for f in [mid, deep] {
        assert_eq!(
            store.get_acl(f).unwrap(),
            vec![(ALICE.into(), "lrs".into())]
        );
    }
    // A change to the parent later does not propagate (inheritance is at creation).
    store.set_acl(team, ALICE, "l").unwrap();
    assert_eq!(store.rights(deep, ALICE).unwrap(), "lrs");
    // Top-level folders start with an empty ACL.
    let top = store.create_folder(BOB, "Top", None).unwrap();
    assert!(store.get_acl(top).unwrap().is_empty());
    assert_eq!(store.folders_visible_to(ALICE).unwrap().len(), 3);
}

#[test]
fn create_makes_missing_parents() {
    let (_dir, store) = store_with_bob();
    let c = store.create_folder(BOB, "a/b/c", None).unwrap();
    let names: Vec<String> = store
        .list_folders(BOB)
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert!(names.contains(&"a".to_string()) && names.contains(&"a/b".to_string()));
    assert!(
        !store
            .folder_state(store.folder_id(BOB, "a").unwrap().unwrap())
            .unwrap()
            .noselect
    );
    // A trailing separator is dropped; existing parents are reused.
    let d = store.create_folder(BOB, "a/b/d/", None).unwrap();
    assert_eq!(store.folder_state(d).unwrap().name, "a/b/d");
    assert_eq!(store.folder_id(BOB, "a/b/c").unwrap(), Some(c));
    assert!(matches!(
        store.create_folder(BOB, "a/b", None),
        Err(StorageError::Exists(_))
    ));
    for bad in ["a//b", "/a", "/"] {
        assert!(
            matches!(
                store.create_folder(BOB, bad, None),
                Err(StorageError::Invalid(_))
            ),
            "{bad}"
        );
    }
    // Children of INBOX.
    store.create_folder(BOB, "inbox/sub", None).unwrap();
    assert_eq!(store.list_folders(BOB).unwrap().len(), 6 + 4 + 1);
}

#[test]
fn rename_moves_children_and_creates_parents() {
    let (_dir, store) = store_with_bob();
    let a = store.create_folder(BOB, "a", None).unwrap();
    let ab = store.create_folder(BOB, "a/b", None).unwrap();
    let abc = store.create_folder(BOB, "a/b/c", None).unwrap();
    let other = store.create_folder(BOB, "ab", None).unwrap(); // not a child of "a"
    store
        .append_message(ab, msg(&store, b"m", 0), None)
        .unwrap();
    let validity = store.folder_state(abc).unwrap().uidvalidity;
    store.rename_folder(a, "x/y").unwrap();
    assert_eq!(store.folder_state(a).unwrap().name, "x/y");
    assert_eq!(store.folder_state(ab).unwrap().name, "x/y/b");
    assert_eq!(store.folder_state(abc).unwrap().name, "x/y/b/c");
    assert_eq!(store.folder_state(abc).unwrap().uidvalidity, validity);
    assert_eq!(store.folder_state(other).unwrap().name, "ab");
    assert!(
        store.folder_id(BOB, "x").unwrap().is_some(),
        "parent created"
    );
    assert_eq!(store.folder_id(BOB, "a/b").unwrap(), None);
    assert_eq!(store.folder_id(BOB, "x/y/b").unwrap(), Some(ab));
    assert_eq!(store.uid_list(ab).unwrap(), vec![1]);

    // Errors leave everything in place.
    assert!(matches!(
        store.rename_folder(a, "x/y/b/z"),
        Err(StorageError::Invalid(_))
    ));
    store.create_folder(BOB, "t/b", None).unwrap();
    assert!(matches!(
        store.rename_folder(a, "t"),
        Err(StorageError::Exists(_))
    ));
    assert_eq!(store.folder_state(ab).unwrap().name, "x/y/b");
}

#[test]
fn rename_inbox_moves_its_messages() {
    let (_dir, store) = store_with_bob();
    let f = inbox(&store, BOB);
    let child = store.create_folder(BOB, "INBOX/keep", None).unwrap();
    store
        .append_message(f, msg(&store, b"1", Flags::SEEN), None)
        .unwrap();
    store
        .append_message(f, msg(&store, b"22", 0), None)
        .unwrap();
    let before = store.folder_state(f).unwrap();
    let old = store.rename_inbox(BOB, "Old/Mail").unwrap();
    let after = store.folder_state(f).unwrap();
    assert_eq!(after.name, "INBOX");
    assert_eq!(after.uidvalidity, before.uidvalidity);
    assert_eq!((after.exists, after.uidnext), (0, 3));
    assert_eq!(store.expunged_since(f, 0).unwrap(), vec![1, 2]);
    let moved = store.list_messages(old).unwrap();
    assert_eq!(moved.len(), 2);
    assert_eq!(moved[0].flags, Flags::system(Flags::SEEN));
    assert_eq!(counters(&store, old), (2, 1, 0, 3));
    assert_eq!(store.folder_state(old).unwrap().name, "Old/Mail");
    assert!(store.folder_id(BOB, "Old").unwrap().is_some());
    assert_eq!(store.folder_state(child).unwrap().name, "INBOX/keep");
    assert_eq!(store.quota(BOB).unwrap().messages_used, 2);
    // New mail lands in the empty INBOX with the next uid.
    let (uid, _) = store.append_message(f, msg(&store, b"3", 0), None).unwrap();
    assert_eq!(uid, 3);
    assert!(matches!(
        store.rename_inbox(BOB, "Old/Mail"),
        Err(StorageError::Exists(_))
    ));
    assert!(matches!(
        store.rename_inbox(BOB, "inbox"),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        store.rename_inbox("nobody@example.com", "X"),
        Err(StorageError::NotFound(_))
    ));
}

#[test]
fn delete_with_children_leaves_a_noselect_placeholder() {
    let (_dir, store) = store_with_bob();
    let c = store.create_folder(BOB, "p/c", None).unwrap();
    let p = store.folder_id(BOB, "p").unwrap().unwrap();
    let m = msg(&store, b"in parent", 0);
    store.append_message(p, m.clone(), None).unwrap();
    let validity = store.folder_state(p).unwrap().uidvalidity;
    store.delete_folder(p).unwrap();
    let st = store.folder_state(p).unwrap();
    assert!(st.noselect);
    assert_eq!((st.exists, st.size, st.unseen), (0, 0, 0));
    assert!(store.uid_list(p).unwrap().is_empty());
    super::testutil::settle(&store);
    assert!(!store.blobs().exists(&m.blob));
    assert_eq!(store.quota(BOB).unwrap().messages_used, 0);
    assert!(matches!(
        store.append_message(p, msg(&store, b"x", 0), None),
        Err(StorageError::Invalid(_))
    ));
    // Deleting it again while it has children: Invalid.
    let err = store.delete_folder(p).unwrap_err();
    assert!(matches!(err, StorageError::Invalid(_)), "{err}");
    // CREATE of its name makes it a normal folder again, with a new UIDVALIDITY.
    assert_eq!(store.create_folder(BOB, "p", None).unwrap(), p);
    let st = store.folder_state(p).unwrap();
    assert!(!st.noselect && st.uidvalidity > validity && st.uidnext == 1);
    store
        .append_message(p, msg(&store, b"again", 0), None)
        .unwrap();
    // Placeholder without children: really deleted.
    store.delete_folder(p).unwrap();
    assert!(store.folder_state(p).unwrap().noselect);
    store.delete_folder(c).unwrap();
    store.delete_folder(p).unwrap();
    assert_eq!(store.folder_id(BOB, "p").unwrap(), None);
}

#[test]
fn public_folders_have_no_owner_and_no_quota() {
    let (_dir, store) = store_with_bob();
    let news = store
        .create_folder(PUBLIC_OWNER, "News/Announcements", None)
        .unwrap();
    let names: Vec<String> = store
        .list_folders(PUBLIC_OWNER)
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, vec!["News", "News/Announcements"]);
    assert_eq!(
        store.folder_id("", "News/Announcements").unwrap(),
        Some(news)
    );
    assert_eq!(store.folder_state(news).unwrap().account, "");
    store.set_quota(BOB, Some(0), Some(0)).unwrap();
    store
        .append_message(news, msg(&store, b"hello all", 0), None)
        .unwrap();
    // Copy from a public folder to bob: bob's quota applies.
    assert!(matches!(
        store.copy_messages(news, &[1], inbox(&store, BOB)),
        Err(StorageError::OverQuota { .. })
    ));
    assert_eq!(store.rights(news, BOB).unwrap(), "", "no owner");
    assert!(store
        .list_folders(BOB)
        .unwrap()
        .iter()
        .all(|f| f.account == BOB));
}

#[test]
fn recent_is_claimed_by_one_session() {
    let (_dir, store) = store_with_bob();
    let f = inbox(&store, BOB);
    for body in [b"1", b"2"] {
        store.append_message(f, msg(&store, body, 0), None).unwrap();
    }
    assert_eq!(store.recent_count(f).unwrap(), 2);
    let first = store.claim_recent(f).unwrap();
    assert_eq!(first, 1, "session A sees uids >= 1 as recent");
    let second = store.claim_recent(f).unwrap();
    assert_eq!(second, 3, "session B sees none of them");
    assert_eq!(store.recent_count(f).unwrap(), 0);
    store.append_message(f, msg(&store, b"3", 0), None).unwrap();
    store.append_message(f, msg(&store, b"4", 0), None).unwrap();
    store.expunge(f, &[4]).unwrap();
    assert_eq!(
        store.recent_count(f).unwrap(),
        1,
        "expunged uids do not count"
    );
    // Concurrent claims: every watermark handed out once.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || store.claim_recent(f).unwrap())
        })
        .collect();
    let mut got: Vec<u32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    got.sort();
    assert_eq!(got, vec![3, 5, 5, 5]);
    // Copies into a folder are recent there.
    let trash = store.folder_id(BOB, "Trash").unwrap().unwrap();
    store.copy_messages(f, &[3], trash).unwrap();
    assert_eq!(store.recent_count(trash).unwrap(), 1);
}

#[test]
fn expunge_history_is_bounded_with_a_horizon() {
    let (_dir, store) = store_with_bob();
    store.set_expunged_keep(5);
    let f = inbox(&store, BOB);
    let blob = msg(&store, b"m", 0);
    let (uids, _) = store.append_messages(f, &vec![blob; 10]).unwrap();
    assert_eq!(uids, (1..=10).collect::<Vec<u32>>());
    assert_eq!(store.vanished_horizon(f).unwrap(), 0);
    let mut modseqs = Vec::new();
    for uid in 1..=8 {
        modseqs.push(store.expunge(f, &[uid]).unwrap());
    }
    // 8 expunged, 5 kept: the three oldest forgotten.
    let horizon = store.vanished_horizon(f).unwrap();
    assert_eq!(horizon, modseqs[2]);
    assert_eq!(
        store.expunged_since(f, horizon).unwrap(),
        vec![4, 5, 6, 7, 8]
    );
    assert_eq!(store.expunged_since(f, 0).unwrap().len(), 5);
    assert_eq!(
        store
            .tree(TreeIx::Expunged)
            .scan_prefix(f.to_be_bytes())
            .count(),
        5
    );
    // One expunge of two: dropped as a whole when it gets old.
    store.expunge(f, &[9, 10]).unwrap();
    assert_eq!(store.expunged_since(f, 0).unwrap(), vec![6, 7, 8, 9, 10]);
}

#[test]
fn folder_keywords_collect_from_appends_and_stores() {
    let (_dir, store) = store_with_bob();
    let f = inbox(&store, BOB);
    let mut m = msg(&store, b"k", 0);
    m.flags = keyword("$Forwarded");
    store.append_message(f, m, None).unwrap();
    store
        .store_flags(f, &[1], FlagMode::Add, &keyword("$forwarded"), None)
        .unwrap();
    store.set_flags(f, 1, keyword("Project")).unwrap();
    assert_eq!(
        store.folder_keywords(f).unwrap(),
        vec!["$Forwarded", "Project"]
    );
    // Copies bring their keywords along.
    let trash = store.folder_id(BOB, "Trash").unwrap().unwrap();
    store.copy_messages(f, &[1], trash).unwrap();
    assert_eq!(store.folder_keywords(trash).unwrap(), vec!["Project"]);
    // A folder refuses keywords past its limit, atomically.
    let many: Vec<u32> = store
        .append_messages(f, &vec![msg(&store, b"k", 0); 1])
        .unwrap()
        .0;
    let mut flags = Flags::default();
    for i in 0..300 {
        flags.add_keyword(&format!("k{i}"));
    }
    assert!(matches!(
        store.store_flags(f, &many, FlagMode::Add, &flags, None),
        Err(StorageError::Invalid(_))
    ));
    assert_eq!(store.folder_keywords(f).unwrap().len(), 2);
}

#[test]
fn new_counters_persist_and_are_rebuilt_for_old_data() {
    let dir = tempfile::TempDir::new().unwrap();
    set_fast_password_hashing_for_tests(true);
    let (f, team, state) = {
        let store = SledStore::open(dir.path()).unwrap();
        store.add_domain("example.com").unwrap();
        store.add_account(BOB, "pw", false).unwrap();
        store.add_account(ALICE, "pw", false).unwrap();
        let f = inbox(&store, BOB);
        let mut k = msg(&store, b"seen", Flags::SEEN);
        k.flags.add_keyword("$Label");
        store.append_message(f, k, None).unwrap();
        store
            .append_message(f, msg(&store, b"deleted", Flags::DELETED), None)
            .unwrap();
        store.claim_recent(f).unwrap();
        store
            .append_message(f, msg(&store, b"new", 0), None)
            .unwrap();
        store.set_quota(BOB, Some(1 << 20), None).unwrap();
        let team = store.create_folder(BOB, "Team/x", None).unwrap();
        store.set_acl(team, ALICE, "lr").unwrap();
        store.commit().unwrap();
        (f, team, store.folder_state(f).unwrap())
    };
    let check = |store: &SledStore| {
        assert_eq!(store.folder_state(f).unwrap(), state);
        assert_eq!(
            (state.exists, state.unseen, state.deleted, state.size),
            (3, 2, 1, 14)
        );
        assert_eq!(store.folder_keywords(f).unwrap(), vec!["$Label"]);
        assert_eq!(store.recent_count(f).unwrap(), 1);
        let q = store.quota(BOB).unwrap();
        assert_eq!(
            (q.storage_used, q.messages_used, q.storage_limit),
            (14, 3, Some(1 << 20))
        );
        assert_eq!(store.rights(team, ALICE).unwrap(), "lr");
    };
    {
        let store = SledStore::open(dir.path()).unwrap();
        check(&store);
        // Simulate a data directory from before `v1/folder_ext` and `v1/quota`: no counters,
        // no usage; and an append by such a build to an existing folder (stale counters).
        store
            .tree(TreeIx::FolderExt)
            .remove(f.to_be_bytes())
            .unwrap();
        store.tree(TreeIx::Quota).remove(BOB.as_bytes()).unwrap();
        store.commit().unwrap();
    }
    {
        let store = SledStore::open(dir.path()).unwrap();
        let st = store.folder_state(f).unwrap();
        assert_eq!((st.exists, st.unseen, st.deleted, st.size), (3, 2, 1, 14));
        assert_eq!(store.folder_keywords(f).unwrap(), vec!["$Label"]);
        assert_eq!(store.recent_count(f).unwrap(), 0, "old mail is not recent");
        assert_eq!(store.quota(BOB).unwrap().storage_used, 14);
        // An old build appends: the folder record moves, the counters do not.
        let trash = store.folder_id(BOB, "Trash").unwrap().unwrap();
        store
            .append_message(trash, msg(&store, b"abc", 0), None)
            .unwrap();
        let mut rec: super::folder_record::FolderRecord =
            keys::get(store.tree(TreeIx::Folders), &trash.to_be_bytes(), "folder")
                .unwrap()
                .unwrap();
        rec.uidnext += 1;
        rec.highest_modseq += 1;
        store
            .tree(TreeIx::Folders)
            .insert(trash.to_be_bytes(), keys::encode(&rec).unwrap())
            .unwrap();
        store
            .tree(TreeIx::Messages)
            .insert(
                keys::message_key(trash, 2),
                store
                    .tree(TreeIx::Messages)
                    .get(keys::message_key(trash, 1))
                    .unwrap()
                    .unwrap(),
            )
            .unwrap();
        assert!(matches!(
            store.append_message(trash, msg(&store, b"x", 0), None),
            Err(StorageError::Encoding(_))
        ));
        store.commit().unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    let trash = store.folder_id(BOB, "Trash").unwrap().unwrap();
    let st = store.folder_state(trash).unwrap();
    assert_eq!((st.exists, st.size), (2, 6));
    assert_eq!(store.quota(BOB).unwrap().storage_used, 20);
    store
        .append_message(trash, msg(&store, b"x", 0), None)
        .unwrap();
}

#[test]
fn large_folder_lists_fast() {
    const N: usize = 100_000;
    const BATCH: usize = 5_000;
    let (_dir, store) = store_with_bob();
    let f = inbox(&store, BOB);
    let m = msg(&store, b"tiny", 0);
    let batch = vec![m.clone(); BATCH];
    let t = std::time::Instant::now();
    for _ in 0..N / BATCH {
        store.append_messages(f, &batch).unwrap();
    }
    let append = t.elapsed();
    let t = std::time::Instant::now();
    let list = store.list_messages(f).unwrap();
    let listed = t.elapsed();
    let t = std::time::Instant::now();
    let uids = store.uid_list(f).unwrap();
    let uid_listed = t.elapsed();
    let t = std::time::Instant::now();
    let count = store.message_count(f).unwrap();
    let counted = t.elapsed();
    println!(
        "{N} messages: append_messages {append:?}, list_messages {listed:?}, \
         uid_list {uid_listed:?}, message_count {counted:?}"
    );
    assert_eq!((list.len(), uids.len(), count as usize), (N, N, N));
    assert_eq!(uids.last(), Some(&(N as u32)));
    assert_eq!(store.blob_refcount(&m.blob).unwrap(), N as u64);
    assert_eq!(store.quota(BOB).unwrap().messages_used, N as u64);
}
