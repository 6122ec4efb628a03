//! Folder checks: the folder tree, UIDs and modseqs, flags and changes, expunge history, ACL,
//! quota and subscriptions.

use super::{append, fresh, inbox, message, Open, ALICE, BOB};
use crate::storage::{FlagMode, Flags, FolderId, StorageError, Store, ALL_RIGHTS};

/// Appends three messages to `folder`; returns their UIDs.
fn three_messages(store: &Store, folder: FolderId) -> [u32; 3] {
    [b"one".as_slice(), b"two", b"three"].map(|content| append(store, folder, content).0)
}

/// Default folders exist; a folder is created, found, renamed and deleted; names are unique.
pub fn folder_create_rename_delete(open: Open) {
    let (_dir, store) = fresh(open);
    let names: Vec<String> = store
        .list_folders(BOB)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    for n in ["INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"] {
        assert!(names.contains(&n.to_string()), "{n} in {names:?}");
    }
    let id = store.create_folder(BOB, "Projects", None).unwrap();
    assert_eq!(store.folder_id(BOB, "Projects").unwrap(), Some(id));
    assert_eq!(store.folder_id(ALICE, "Projects").unwrap(), None);
    assert!(matches!(
        store.create_folder(BOB, "Projects", None),
        Err(StorageError::Exists(_))
    ));
    let state = store.folder_state(id).unwrap();
    assert_eq!(
        (state.account.as_str(), state.name.as_str()),
        (BOB, "Projects")
    );
    assert_eq!(state.exists, 0);

    append(&store, id, b"Subject: kept across the rename\r\n\r\nx");
    store.0.rename_folder(id, "Work").unwrap();
    assert_eq!(store.folder_id(BOB, "Projects").unwrap(), None);
    assert_eq!(store.folder_id(BOB, "Work").unwrap(), Some(id));
    assert_eq!(store.folder_state(id).unwrap().name, "Work");
    assert_eq!(store.message_count(id).unwrap(), 1);

    store.0.delete_folder(id).unwrap();
    assert_eq!(store.folder_id(BOB, "Work").unwrap(), None);
    assert!(store.folder_state(id).is_err());
    assert!(store
        .list_messages(id)
        .map(|m| m.is_empty())
        .unwrap_or(true));
}

/// UIDs and modseqs only grow, expunged UIDs are never handed out again, and a folder made
/// again under an old name gets a new UIDVALIDITY.
pub fn uid_and_modseq_strictly_increase(open: Open) {
    let (_dir, store) = fresh(open);
    let folder = inbox(&store, BOB);
    let mut last = (0u32, 0u64);
    for i in 0..5u8 {
        let (uid, modseq) = append(&store, folder, &[b'a' + i; 10]);
        assert!(
            uid > last.0 && modseq > last.1,
            "{:?} after {last:?}",
            (uid, modseq)
        );
        last = (uid, modseq);
    }
    let state = store.folder_state(folder).unwrap();
    assert!(state.uidnext > last.0);
    assert_eq!(state.highest_modseq, last.1);
    assert_eq!(state.exists, 5);
    let expunged = store.0.expunge(folder, &[last.0]).unwrap();
    assert!(expunged > last.1);
    let (uid, modseq) = append(&store, folder, b"after the expunge");
    assert!(uid > last.0, "UID {uid} reused");
    assert!(modseq > expunged);
    let uids = store.uid_list(folder).unwrap();
    assert!(uids.windows(2).all(|w| w[0] < w[1]), "{uids:?}");

    let tmp = store.create_folder(BOB, "Tmp", None).unwrap();
    let validity = store.folder_state(tmp).unwrap().uidvalidity;
    store.0.delete_folder(tmp).unwrap();
    let again = store.create_folder(BOB, "Tmp", None).unwrap();
    assert_ne!(store.folder_state(again).unwrap().uidvalidity, validity);
}

/// STORE changes flags with a new modseq per changed message, reports what UNCHANGEDSINCE
/// left alone, and the changes since a modseq are exactly the messages changed after it.
pub fn flags_and_changes_since_modseq(open: Open) {
    let (_dir, store) = fresh(open);
    let folder = inbox(&store, BOB);
    let [u1, u2, u3] = three_messages(&store, folder);
    let m0 = store.folder_state(folder).unwrap().highest_modseq;
    assert_eq!(store.folder_state(folder).unwrap().unseen, 3);

    let mut seen_flagged = Flags::system(Flags::SEEN | Flags::FLAGGED);
    seen_flagged.add_keyword("$Important");
    let res = store
        .0
        .store_flags(folder, &[u2], FlagMode::Add, &seen_flagged, None)
        .unwrap();
    assert_eq!(res.changed.len(), 1);
    let (uid, flags, modseq) = &res.changed[0];
    assert_eq!(*uid, u2);
    assert!(flags.has(Flags::SEEN) && flags.has(Flags::FLAGGED));
    assert!(flags.has_keyword("$Important"));
    assert!(*modseq > m0);
    assert_eq!(res.highest_modseq, *modseq);
    let stored = store.get_message(folder, u2).unwrap().unwrap();
    assert!(stored.flags.has(Flags::SEEN) && stored.flags.has_keyword("$Important"));
    assert_eq!(stored.modseq, *modseq);
    assert_eq!(store.folder_state(folder).unwrap().unseen, 2);
    assert!(store
        .folder_keywords(folder)
        .unwrap()
        .contains(&"$Important".to_string()));

    // A STORE that changes nothing takes no modseq.
    let again = store
        .0
        .store_flags(
            folder,
            &[u2],
            FlagMode::Add,
            &Flags::system(Flags::SEEN),
            None,
        )
        .unwrap();
    assert!(again.changed.is_empty());
    assert_eq!(again.highest_modseq, *modseq);

    // UNCHANGEDSINCE m0: u2 changed after m0 and is left alone; u1 is changed.
    let cond = store
        .0
        .store_flags(
            folder,
            &[u1, u2],
            FlagMode::Replace,
            &Flags::system(Flags::ANSWERED),
            Some(m0),
        )
        .unwrap();
    assert_eq!(cond.modified, vec![u2]);
    assert_eq!(
        cond.changed.iter().map(|c| c.0).collect::<Vec<_>>(),
        vec![u1]
    );

    let m1 = store
        .0
        .set_flags(folder, u3, Flags::system(Flags::DELETED))
        .unwrap();
    assert!(m1 > cond.highest_modseq);
    let changed: Vec<u32> = store
        .list_messages(folder)
        .unwrap()
        .into_iter()
        .filter(|m| m.modseq > m0)
        .map(|m| m.uid)
        .collect();
    assert_eq!(changed, vec![u1, u2, u3]);
    assert_eq!(store.folder_state(folder).unwrap().deleted, 1);
    let since: Vec<u32> = store
        .messages_from(folder, u2)
        .unwrap()
        .into_iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(since, vec![u2, u3]);
}

/// Expunge removes the messages, takes a modseq, and the expunged UIDs are reported as
/// vanished since any earlier modseq (and not since a later one).
pub fn expunge_and_vanished(open: Open) {
    let (_dir, store) = fresh(open);
    let folder = inbox(&store, BOB);
    let [u1, u2, u3] = three_messages(&store, folder);
    let uids = |v: Vec<crate::storage::MessageRecord>| v.iter().map(|m| m.uid).collect::<Vec<_>>();
    assert_eq!(
        uids(store.get_messages(folder, &[u3, u1]).unwrap()),
        vec![u1, u3]
    );
    let before = store.folder_state(folder).unwrap().highest_modseq;
    let modseq = store.0.expunge(folder, &[u1, u3]).unwrap();
    assert!(modseq > before);
    assert_eq!(store.uid_list(folder).unwrap(), vec![u2]);
    assert_eq!(store.message_count(folder).unwrap(), 1);
    assert_eq!(store.get_message(folder, u1).unwrap(), None);
    // Several at once: only those that exist, in UID order, once each.
    let kept = store.get_message(folder, u2).unwrap().unwrap();
    let got = store.get_messages(folder, &[u3, u2, u1, u2]).unwrap();
    assert_eq!(got, vec![kept]);
    assert!(store.get_messages(folder, &[]).unwrap().is_empty());
    assert_eq!(store.expunged_since(folder, before).unwrap(), vec![u1, u3]);
    assert!(store.expunged_since(folder, modseq).unwrap().is_empty());
    assert!(store.vanished_horizon(folder).unwrap() <= before);
    let state = store.folder_state(folder).unwrap();
    assert_eq!((state.exists, state.highest_modseq), (1, modseq));
}

/// The owner has every right; granted rights are listed, checked and make the folder
/// visible to the grantee; unknown rights are refused; a revoke takes them away.
pub fn acl_grants_and_revokes(open: Open) {
    let (_dir, store) = fresh(open);
    let folder = inbox(&store, BOB);
    assert_eq!(store.rights(folder, BOB).unwrap(), ALL_RIGHTS);
    assert_eq!(store.rights(folder, ALICE).unwrap(), "");
    assert!(store
        .folders_visible_to(ALICE)
        .unwrap()
        .iter()
        .all(|f| f.id != folder));

    store.set_acl(folder, ALICE, "rl").unwrap();
    assert_eq!(store.rights(folder, ALICE).unwrap(), "lr");
    assert!(store
        .get_acl(folder)
        .unwrap()
        .contains(&(ALICE.to_string(), "lr".to_string())));
    assert!(store
        .folders_visible_to(ALICE)
        .unwrap()
        .iter()
        .any(|f| f.id == folder));
    assert!(matches!(
        store.set_acl(folder, ALICE, "lrz"),
        Err(StorageError::Invalid(_))
    ));
    assert_eq!(store.rights(folder, ALICE).unwrap(), "lr");

    store.delete_acl(folder, ALICE).unwrap();
    assert_eq!(store.rights(folder, ALICE).unwrap(), "");
    assert!(store
        .folders_visible_to(ALICE)
        .unwrap()
        .iter()
        .all(|f| f.id != folder));
}

/// Usage follows appends and expunges; a change over the limit is refused whole and leaves
/// the usage as it was.
pub fn quota_accounting_and_over_quota(open: Open) {
    let (_dir, store) = fresh(open);
    let folder = inbox(&store, BOB);
    let q = store.quota(BOB).unwrap();
    assert_eq!((q.storage_used, q.messages_used), (0, 0));
    let (uid, _) = append(&store, folder, &[b'x'; 100]);
    let q = store.quota(BOB).unwrap();
    assert_eq!((q.storage_used, q.messages_used), (100, 1));
    assert_eq!(store.quota(ALICE).unwrap().storage_used, 0);

    store.set_quota(BOB, Some(150), Some(10)).unwrap();
    let q = store.quota(BOB).unwrap();
    assert_eq!((q.storage_limit, q.messages_limit), (Some(150), Some(10)));
    assert!(matches!(
        store
            .0
            .append_message(folder, message(&store, &[b'y'; 60]), None),
        Err(StorageError::OverQuota {
            resource: "STORAGE"
        })
    ));
    let q = store.quota(BOB).unwrap();
    assert_eq!((q.storage_used, q.messages_used), (100, 1));
    assert_eq!(store.message_count(folder).unwrap(), 1);

    store.set_quota(BOB, None, Some(1)).unwrap();
    assert!(matches!(
        store
            .0
            .append_message(folder, message(&store, b"small"), None),
        Err(StorageError::OverQuota {
            resource: "MESSAGE"
        })
    ));

    store.0.expunge(folder, &[uid]).unwrap();
    let q = store.quota(BOB).unwrap();
    assert_eq!((q.storage_used, q.messages_used), (0, 0));
    assert_eq!(store.recompute_quota(BOB).unwrap().storage_used, 0);
}

/// Subscriptions are per account, listed, and removed once.
pub fn subscriptions_round_trip(open: Open) {
    let (_dir, store) = fresh(open);
    store.subscribe(BOB, "Lists/rust").unwrap();
    assert!(store
        .subscriptions(BOB)
        .unwrap()
        .contains(&"Lists/rust".to_string()));
    assert!(!store
        .subscriptions(ALICE)
        .unwrap()
        .contains(&"Lists/rust".to_string()));
    assert!(store.unsubscribe(BOB, "Lists/rust").unwrap());
    assert!(!store.unsubscribe(BOB, "Lists/rust").unwrap());
    assert!(!store
        .subscriptions(BOB)
        .unwrap()
        .contains(&"Lists/rust".to_string()));
}

/// The folder tree: CREATE makes parents (which pass their ACL down), RENAME carries the
/// children, DELETE of a folder with children leaves an empty `\Noselect` placeholder (its
/// METADATA and URLAUTH keys gone, its subscription kept) that CREATE revives with a new
/// UIDVALIDITY; RENAME INBOX moves the messages into a new folder and leaves INBOX empty.
pub fn folder_hierarchy_and_rename_inbox(open: Open) {
    use crate::storage::MetadataOwner;
    let (_dir, store) = fresh(open);
    let top = store.create_folder(BOB, "Top", None).unwrap();
    store.set_acl(top, ALICE, "lr").unwrap();
    let child = store.create_folder(BOB, "Top/Mid/Leaf", None).unwrap();
    let mid = store
        .folder_id(BOB, "Top/Mid")
        .unwrap()
        .expect("parent made");
    assert_eq!(store.rights(child, ALICE).unwrap(), "lr");
    assert_eq!(store.rights(mid, ALICE).unwrap(), "lr");

    store.0.rename_folder(top, "Moved/Top").unwrap();
    assert!(store.folder_id(BOB, "Moved").unwrap().is_some());
    assert_eq!(
        store.folder_state(child).unwrap().name,
        "Moved/Top/Mid/Leaf"
    );
    assert_eq!(store.folder_id(BOB, "Top/Mid").unwrap(), None);

    append(&store, mid, b"in the parent");
    let shared = MetadataOwner::Folder(mid);
    store
        .set_metadata(
            shared,
            BOB,
            &[("/shared/comment".into(), Some(b"x".to_vec()))],
        )
        .unwrap();
    store.urlauth_key(mid, BOB, true).unwrap();
    let before = store.folder_state(mid).unwrap();
    store.0.delete_folder(mid).unwrap();
    let placeholder = store.folder_state(mid).unwrap();
    assert!(placeholder.noselect);
    assert_eq!((placeholder.exists, placeholder.size), (0, 0));
    assert!(store.metadata(shared, BOB).unwrap().is_empty());
    assert_eq!(store.urlauth_key(mid, BOB, false).unwrap(), None);
    assert!(store
        .subscriptions(BOB)
        .unwrap()
        .contains(&"Moved/Top/Mid".to_string()));
    assert_eq!(store.quota(BOB).unwrap().messages_used, 0);
    assert!(matches!(
        store.0.delete_folder(mid),
        Err(StorageError::Invalid(_))
    ));
    assert_eq!(
        store.create_folder(BOB, "Moved/Top/Mid", None).unwrap(),
        mid
    );
    let revived = store.folder_state(mid).unwrap();
    assert!(!revived.noselect);
    assert!(revived.uidvalidity > before.uidvalidity);

    let inbox = inbox(&store, BOB);
    append(&store, inbox, b"one");
    append(&store, inbox, b"two");
    let kept = store.folder_state(inbox).unwrap();
    let old = store.0.rename_inbox(BOB, "Old/Inbox").unwrap();
    let emptied = store.folder_state(inbox).unwrap();
    assert_eq!((emptied.exists, emptied.uidvalidity), (0, kept.uidvalidity));
    assert!(emptied.uidnext >= kept.uidnext);
    assert!(emptied.highest_modseq > kept.highest_modseq);
    assert_eq!(store.uid_list(old).unwrap(), [1, 2]);
    assert_eq!(store.folder_state(old).unwrap().exists, 2);
    assert_eq!(store.quota(BOB).unwrap().messages_used, 2);
    assert_eq!(
        store
            .expunged_since(inbox, kept.highest_modseq)
            .unwrap()
            .len(),
        2
    );
}
