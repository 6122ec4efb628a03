//! The folder catalog on PostgreSQL beyond the conformance suite: parents, placeholders,
//! renames with children, RENAME INBOX, visibility by ACL, METADATA, URLAUTH keys, and two
//! creations of one name racing. Each test has its own schema; without
//! `FERRYMAIL_TEST_PG_URL` each says SKIPPED.

use super::blobrefs::RefDelta;
use super::folders::{create_folder_tx, db_id};
use super::pool::Db;
use super::{testing, PgStore};
use crate::storage::folders::DEFAULT_FOLDERS;
use crate::storage::*;

const BOB: &str = "bob@example.com";
const ALICE: &str = "alice@example.com";

/// A store on its own schema, dropped with it.
pub(super) struct Fixture {
    pub(super) store: PgStore,
    url: String,
    schema: String,
    _dir: tempfile::TempDir,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        testing::drop_schema(&self.url, &self.schema);
    }
}

/// A fresh store with accounts bob@ and alice@ (rows written directly, with the default
/// folders, so that these tests do not depend on the directory methods), or None (skipped).
pub(super) fn fixture(test: &str) -> Option<Fixture> {
    let url = testing::url(test)?;
    let dir = tempfile::tempdir().expect("temporary directory");
    let schema = testing::schema_for(dir.path());
    testing::drop_schema(&url, &schema);
    let store = PgStore::open(
        dir.path(),
        None,
        &testing::config(&url, &schema, "test-node"),
    )
    .expect("open the PostgreSQL backend");
    for account in [BOB, ALICE] {
        add_account(&store, account);
    }
    Some(Fixture {
        store,
        url,
        schema,
        _dir: dir,
    })
}

fn add_account(store: &PgStore, address: &str) {
    store
        .pool()
        .tx(|tx| {
            tx.execute(
                "INSERT INTO domains (name, created) VALUES ('example.com', 0)
                 ON CONFLICT DO NOTHING",
                &[],
            )
            .map_err(super::pool::pg_error)?;
            tx.execute(
                "INSERT INTO accounts (address, domain, hash, admin, created)
                 VALUES ($1, 'example.com', 'x', false, 0)",
                &[&address],
            )
            .map_err(super::pool::pg_error)?;
            for (name, special_use) in DEFAULT_FOLDERS {
                create_folder_tx(store, tx, address, name, special_use)?;
            }
            Ok(())
        })
        .expect("add an account");
}

/// Puts a message with body `content` in `folder` the way an append does (uid, modseq,
/// counters, quota, blob reference), so that deletes and renames have something to carry.
pub(super) fn put_message(store: &PgStore, folder: FolderId, content: &[u8], seen: bool) -> u32 {
    let blob = store.blobs().put(content).expect("write a body");
    let size = content.len() as i64;
    let (uid, zeroed) = store
        .pool()
        .tx(|tx| {
            let row = tx
                .query_one(
                    "UPDATE folders SET uidnext = uidnext + 1,
                         highest_modseq = highest_modseq + 1, exists_count = exists_count + 1,
                         unseen = unseen + $2, size = size + $3
                     WHERE id = $1 RETURNING account, uidnext - 1, highest_modseq",
                    &[&db_id(folder)?, &i64::from(!seen), &size],
                )
                .map_err(super::pool::pg_error)?;
            let (account, uid, modseq): (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
            tx.execute(
                "INSERT INTO messages (folder, uid, modseq, system_flags, size, internal_date,
                     save_date, blob)
                 VALUES ($1, $2, $3, $4, $5, 0, 0, $6)",
                &[
                    &db_id(folder)?,
                    &uid,
                    &modseq,
                    &i16::from(if seen { Flags::SEEN } else { 0 }),
                    &size,
                    &&blob.0[..],
                ],
            )
            .map_err(super::pool::pg_error)?;
            tx.execute(
                "INSERT INTO quota (account, storage_used, messages_used) VALUES ($1, $2, 1)
                 ON CONFLICT (account) DO UPDATE SET
                     storage_used = quota.storage_used + $2,
                     messages_used = quota.messages_used + 1",
                &[&account, &size],
            )
            .map_err(super::pool::pg_error)?;
            let mut refs = RefDelta::default();
            refs.add(blob);
            Ok((uid as u32, refs.apply(tx, store.blobs())?))
        })
        .expect("put a message");
    assert!(zeroed.is_empty());
    uid
}

/// (storage, messages) used by `account`.
pub(super) fn usage(store: &PgStore, account: &str) -> (i64, i64) {
    store
        .pool()
        .with(|c| {
            let row = c
                .query_opt(
                    "SELECT storage_used, messages_used FROM quota WHERE account = $1",
                    &[&account],
                )
                .map_err(super::pool::pg_error)?;
            Ok(row.map(|r| (r.get(0), r.get(1))).unwrap_or((0, 0)))
        })
        .expect("read the usage")
}

fn names(store: &PgStore, account: &str) -> Vec<String> {
    store
        .list_folders(account)
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect()
}

#[test]
fn create_makes_parents_and_lists_inbox_first() {
    let Some(f) = fixture("create_makes_parents_and_lists_inbox_first") else {
        return;
    };
    let s = &f.store;
    let id = s.create_folder(BOB, "a/b/c", Some("\\Flagged")).unwrap();
    assert_eq!(s.folder_id(BOB, "a/b/c").unwrap(), Some(id));
    assert!(s.folder_id(BOB, "a").unwrap().is_some());
    assert!(s.folder_id(BOB, "a/b").unwrap().is_some());
    assert_eq!(
        s.folder_id(BOB, "inbox").unwrap(),
        s.folder_id(BOB, "INBOX").unwrap()
    );
    assert_eq!(
        names(s, BOB),
        ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash", "a", "a/b", "a/b/c"]
    );
    let state = s.folder_state(id).unwrap();
    assert_eq!(
        (
            state.uidnext,
            state.highest_modseq,
            state.exists,
            state.subscribed
        ),
        (1, 1, 0, true)
    );
    assert_eq!(state.special_use.as_deref(), Some("\\Flagged"));
    // UIDVALIDITY: seeded by the clock and strictly increasing.
    let parent = s
        .folder_state(s.folder_id(BOB, "a/b").unwrap().unwrap())
        .unwrap();
    assert!(state.uidvalidity > parent.uidvalidity);
    assert!(u64::from(parent.uidvalidity) + 100 >= now_secs().min(u64::from(u32::MAX)));
    assert!(matches!(
        s.create_folder(BOB, "INBOX", None),
        Err(StorageError::Exists(_))
    ));
    assert!(matches!(
        s.create_folder("nobody@example.com", "X", None),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        s.create_folder(BOB, "a//b", None),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        s.create_folder(BOB, "X", Some("Sent")),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        s.list_folders("nobody@example.com"),
        Err(StorageError::NotFound(_))
    ));
    // Public folders: no account needed.
    let public = s.create_folder(PUBLIC_OWNER, "News", None).unwrap();
    assert_eq!(s.folder_id(PUBLIC_OWNER, "News").unwrap(), Some(public));
    assert_eq!(names(s, PUBLIC_OWNER), ["News"]);
    assert!(matches!(
        s.folder_state(u64::MAX),
        Err(StorageError::NotFound(_))
    ));
}

#[test]
fn two_threads_creating_one_folder_one_gets_exists() {
    let Some(f) = fixture("two_threads_creating_one_folder_one_gets_exists") else {
        return;
    };
    for round in 0..10 {
        let name = format!("Race{round}/Child");
        let results: Vec<Result<FolderId, StorageError>> = std::thread::scope(|scope| {
            let a = scope.spawn(|| f.store.create_folder(BOB, &name, None));
            let b = scope.spawn(|| f.store.create_folder(BOB, &name, None));
            [a, b].map(|h| h.join().expect("creating thread")).into()
        });
        let made: Vec<&FolderId> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(made.len(), 1, "round {round}: {results:?}");
        assert!(
            results
                .iter()
                .any(|r| matches!(r, Err(StorageError::Exists(_)))),
            "round {round}: {results:?}"
        );
        assert_eq!(f.store.folder_id(BOB, &name).unwrap(), Some(*made[0]));
    }
}

#[test]
fn rename_carries_children_and_makes_parents() {
    let Some(f) = fixture("rename_carries_children_and_makes_parents") else {
        return;
    };
    let s = &f.store;
    let a = s.create_folder(BOB, "a", None).unwrap();
    let ab = s.create_folder(BOB, "a/b", None).unwrap();
    let abc = s.create_folder(BOB, "a/b/c", None).unwrap();
    let ax = s.create_folder(BOB, "ax", None).unwrap();
    let uidvalidity = s.folder_state(ab).unwrap().uidvalidity;
    put_message(s, ab, b"kept", false);
    s.set_acl(a, ALICE, "lr").unwrap();
    s.rename_folder(a, "p/q").unwrap();
    assert_eq!(s.folder_state(a).unwrap().name, "p/q");
    assert_eq!(s.folder_state(ab).unwrap().name, "p/q/b");
    assert_eq!(s.folder_state(abc).unwrap().name, "p/q/b/c");
    // "ax" only shares a prefix: not below "a".
    assert_eq!(s.folder_state(ax).unwrap().name, "ax");
    assert!(s.folder_id(BOB, "p").unwrap().is_some());
    assert_eq!(s.folder_id(BOB, "a").unwrap(), None);
    let moved = s.folder_state(ab).unwrap();
    assert_eq!((moved.uidvalidity, moved.exists), (uidvalidity, 1));
    assert_eq!(
        s.get_acl(a).unwrap(),
        [(ALICE.to_string(), "lr".to_string())]
    );
    assert!(matches!(
        s.rename_folder(ax, "p/q/b"),
        Err(StorageError::Exists(_))
    ));
    assert!(matches!(
        s.rename_folder(a, "p/q/z"),
        Err(StorageError::Invalid(_))
    ));
    let inbox = s.folder_id(BOB, "INBOX").unwrap().unwrap();
    assert!(matches!(
        s.rename_folder(inbox, "Old"),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        s.rename_folder(ax, "inbox"),
        Err(StorageError::Invalid(_))
    ));
}

#[test]
fn delete_with_children_leaves_a_noselect_placeholder() {
    let Some(f) = fixture("delete_with_children_leaves_a_noselect_placeholder") else {
        return;
    };
    let s = &f.store;
    let parent = s.create_folder(BOB, "B", None).unwrap();
    let child = s.create_folder(BOB, "B/Child", None).unwrap();
    put_message(s, parent, b"first body", false);
    put_message(s, parent, b"second", true);
    put_message(s, child, b"child body", false);
    assert_eq!(usage(s, BOB), (26, 3));
    s.set_metadata(
        MetadataOwner::Folder(parent),
        BOB,
        &[("/shared/comment".into(), Some(b"b".to_vec()))],
    )
    .unwrap();
    s.urlauth_key(parent, BOB, true).unwrap();
    s.set_acl(parent, ALICE, "lr").unwrap();
    let before = s.folder_state(parent).unwrap();
    let body = BlobId::of(b"first body");
    assert_eq!(s.blob_refcount(&body).unwrap(), 1);

    s.delete_folder(parent).unwrap();
    let placeholder = s.folder_state(parent).unwrap();
    assert!(placeholder.noselect);
    assert_eq!(
        (placeholder.exists, placeholder.unseen, placeholder.size),
        (0, 0, 0)
    );
    assert_eq!(placeholder.uidvalidity, before.uidvalidity);
    assert!(placeholder.highest_modseq > before.highest_modseq);
    // Every expunge before the placeholder is forgotten (QRESYNC answers another way).
    assert_eq!(
        s.vanished_horizon(parent).unwrap(),
        placeholder.highest_modseq
    );
    assert_eq!(usage(s, BOB), (10, 1));
    assert_eq!(s.blob_refcount(&body).unwrap(), 0);
    assert!(s
        .metadata(MetadataOwner::Folder(parent), BOB)
        .unwrap()
        .is_empty());
    assert_eq!(s.urlauth_key(parent, BOB, false).unwrap(), None);
    // The subscription outlives the folder.
    assert!(s.subscriptions(BOB).unwrap().contains(&"B".to_string()));
    assert_eq!(s.folder_state(child).unwrap().exists, 1);
    assert!(matches!(
        s.delete_folder(parent),
        Err(StorageError::Invalid(_))
    ));
    // CREATE of the name makes it a normal folder again, with a new UIDVALIDITY.
    assert_eq!(s.create_folder(BOB, "B", None).unwrap(), parent);
    let revived = s.folder_state(parent).unwrap();
    assert!(!revived.noselect);
    assert!(revived.uidvalidity > before.uidvalidity);
    assert_eq!((revived.uidnext, revived.highest_modseq), (1, 1));
    assert_eq!(s.vanished_horizon(parent).unwrap(), 0);

    // Without children a folder goes, with its ACL.
    s.delete_folder(child).unwrap();
    assert!(matches!(
        s.folder_state(child),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(usage(s, BOB), (0, 0));
    assert_eq!(s.blob_refcount(&BlobId::of(b"child body")).unwrap(), 0);
    let inbox = s.folder_id(BOB, "INBOX").unwrap().unwrap();
    assert!(matches!(
        s.delete_folder(inbox),
        Err(StorageError::Invalid(_))
    ));
}

#[test]
fn rename_inbox_moves_the_messages_into_a_new_folder() {
    let Some(f) = fixture("rename_inbox_moves_the_messages_into_a_new_folder") else {
        return;
    };
    let s = &f.store;
    let inbox = s.folder_id(BOB, "INBOX").unwrap().unwrap();
    let before = s.folder_state(inbox).unwrap();
    put_message(s, inbox, b"one", false);
    let second = put_message(s, inbox, b"two!", true);
    let id = s.rename_inbox(BOB, "Old/Mail").unwrap();
    assert!(s.folder_id(BOB, "Old").unwrap().is_some());
    let moved = s.folder_state(id).unwrap();
    assert_eq!(
        (
            moved.name.as_str(),
            moved.exists,
            moved.uidnext,
            moved.unseen,
            moved.size
        ),
        ("Old/Mail", 2, 3, 1, 7)
    );
    let emptied = s.folder_state(inbox).unwrap();
    assert_eq!((emptied.exists, emptied.size, emptied.unseen), (0, 0, 0));
    assert_eq!(emptied.uidvalidity, before.uidvalidity);
    assert_eq!(emptied.uidnext, 3);
    assert!(emptied.highest_modseq > before.highest_modseq + 2);
    let rows = s
        .pool()
        .with(|c| {
            c.query("SELECT folder, uid, modseq FROM messages ORDER BY uid", &[])
                .map_err(super::pool::pg_error)
        })
        .unwrap();
    let got: Vec<(i64, i64, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let new_id = db_id(id).unwrap();
    let modseq = moved.highest_modseq as i64;
    assert_eq!(got, [(new_id, 1, modseq), (new_id, 2, modseq)]);
    let expunged: i64 = s
        .pool()
        .with(|c| {
            c.query_one(
                "SELECT count(*) FROM expunged WHERE folder = $1 AND uid <= $2 AND modseq = $3",
                &[
                    &db_id(inbox).unwrap(),
                    &i64::from(second),
                    &(emptied.highest_modseq as i64),
                ],
            )
            .map_err(super::pool::pg_error)
        })
        .unwrap()
        .get(0);
    assert_eq!(expunged, 2);
    // Quota and blob references are unchanged by a move.
    assert_eq!(usage(s, BOB), (7, 2));
    assert_eq!(s.blob_refcount(&BlobId::of(b"one")).unwrap(), 1);
    assert!(matches!(
        s.rename_inbox(BOB, "Old/Mail"),
        Err(StorageError::Exists(_))
    ));
    assert!(matches!(
        s.rename_inbox(BOB, "inbox"),
        Err(StorageError::Invalid(_))
    ));
}

#[test]
fn acl_visibility_and_inheritance() {
    let Some(f) = fixture("acl_visibility_and_inheritance") else {
        return;
    };
    let s = &f.store;
    let shared = s.create_folder(BOB, "Shared", None).unwrap();
    s.set_acl(shared, "Alice@Example.com", "+lrs").unwrap();
    s.set_acl(shared, "ANYONE", "r").unwrap();
    assert_eq!(
        s.get_acl(shared).unwrap(),
        [
            (ALICE.to_string(), "lrs".to_string()),
            ("anyone".to_string(), "r".to_string())
        ]
    );
    s.set_acl(shared, ALICE, "-s").unwrap();
    assert_eq!(s.rights(shared, ALICE).unwrap(), "lr");
    assert_eq!(s.rights(shared, "carol@example.com").unwrap(), "r");
    // A child made later inherits the parent's ACL.
    let child = s.create_folder(BOB, "Shared/Sub", None).unwrap();
    assert_eq!(s.get_acl(child).unwrap(), s.get_acl(shared).unwrap());
    let visible: Vec<(String, String)> = s
        .folders_visible_to(ALICE)
        .unwrap()
        .into_iter()
        .map(|f| (f.account, f.name))
        .collect();
    assert_eq!(
        visible,
        [
            (BOB.to_string(), "Shared".to_string()),
            (BOB.to_string(), "Shared/Sub".to_string())
        ]
    );
    // "anyone" with "l" makes a public folder visible to everyone, not to its owner's list.
    let news = s.create_folder(PUBLIC_OWNER, "News", None).unwrap();
    s.set_acl(news, "anyone", "lr").unwrap();
    assert_eq!(s.folders_visible_to(BOB).unwrap()[0].id, news);
    assert!(matches!(
        s.set_acl(shared, "-alice@example.com", "r"),
        Err(StorageError::Invalid(_))
    ));
    s.set_acl(shared, ALICE, "-lr").unwrap();
    assert_eq!(s.get_acl(shared).unwrap().len(), 1);
    s.delete_acl(shared, "anyone").unwrap();
    s.delete_acl(shared, "anyone").unwrap();
    assert!(s.get_acl(shared).unwrap().is_empty());
    assert!(matches!(
        s.set_acl(u64::MAX, ALICE, "l"),
        Err(StorageError::NotFound(_))
    ));
}

#[test]
fn metadata_private_and_shared_entries() {
    let Some(f) = fixture("metadata_private_and_shared_entries") else {
        return;
    };
    let s = &f.store;
    let work = s.create_folder(BOB, "Work", None).unwrap();
    let on = MetadataOwner::Folder(work);
    let set = |on, user: &str, name: &str, v: Option<&str>| {
        s.set_metadata(on, user, &[(name.into(), v.map(|v| v.as_bytes().to_vec()))])
            .unwrap()
    };
    set(on, BOB, "/private/comment", Some("mine"));
    set(on, ALICE, "/private/comment", Some("hers"));
    set(on, BOB, "/shared/Comment", Some("ours"));
    assert_eq!(
        s.metadata(on, "BOB@example.com").unwrap(),
        [
            ("/private/comment".to_string(), b"mine".to_vec()),
            ("/shared/comment".to_string(), b"ours".to_vec())
        ]
    );
    assert_eq!(s.metadata(on, ALICE).unwrap()[0].1, b"hers");
    set(on, BOB, "/private/comment", None);
    assert_eq!(s.metadata(on, BOB).unwrap().len(), 1);
    assert!(matches!(
        s.set_metadata(on, BOB, &[("/other/x".into(), None)]),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        s.set_metadata(
            MetadataOwner::Folder(u64::MAX - 1),
            BOB,
            &[("/shared/x".into(), Some(b"x".to_vec()))]
        ),
        Err(StorageError::NotFound(_))
    ));
    // Server entries: private ones per user, shared ones for all.
    let server = MetadataOwner::Server;
    set(server, BOB, "/private/vendor/x/theme", Some("dark"));
    set(server, ALICE, "/shared/admin", Some("mailto:a@b"));
    assert_eq!(s.metadata(server, BOB).unwrap().len(), 2);
    assert_eq!(s.metadata(server, "carol@example.com").unwrap().len(), 1);
    // Entries follow a rename and go with the folder.
    s.rename_folder(work, "Renamed").unwrap();
    assert_eq!(s.metadata(on, BOB).unwrap().len(), 1);
    s.delete_folder(work).unwrap();
    assert!(s.metadata(on, BOB).unwrap().is_empty());
}

#[test]
fn urlauth_keys_made_once_reset_and_gone_with_the_folder() {
    let Some(f) = fixture("urlauth_keys_made_once_reset_and_gone_with_the_folder") else {
        return;
    };
    let s = &f.store;
    let work = s.create_folder(BOB, "Work", None).unwrap();
    assert_eq!(s.urlauth_key(work, BOB, false).unwrap(), None);
    let k = s.urlauth_key(work, BOB, true).unwrap().unwrap();
    assert_eq!(k.len(), crate::storage::urlauth::KEY_LEN);
    assert_eq!(
        s.urlauth_key(work, "BOB@example.com", true).unwrap(),
        Some(k.clone())
    );
    let other = s.urlauth_key(work, ALICE, true).unwrap().unwrap();
    assert_ne!(k, other);
    s.reset_urlauth_key(work, BOB).unwrap();
    assert_eq!(s.urlauth_key(work, BOB, false).unwrap(), None);
    assert_eq!(s.urlauth_key(work, ALICE, false).unwrap(), Some(other));
    assert_ne!(s.urlauth_key(work, BOB, true).unwrap().unwrap(), k);
    s.delete_folder(work).unwrap();
    assert_eq!(s.urlauth_key(work, BOB, false).unwrap(), None);
    assert!(matches!(
        s.urlauth_key(work, BOB, true),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        s.reset_urlauth_key(work, BOB),
        Err(StorageError::NotFound(_))
    ));
}

#[test]
fn subscriptions_are_per_account_and_sorted() {
    let Some(f) = fixture("subscriptions_are_per_account_and_sorted") else {
        return;
    };
    let s = &f.store;
    s.subscribe("Bob@Example.com", "b").unwrap();
    s.subscribe(BOB, "B").unwrap();
    s.subscribe(BOB, "B").unwrap();
    s.subscribe(ALICE, "Other").unwrap();
    assert_eq!(s.subscriptions(BOB).unwrap(), ["B", "b"]);
    assert!(s.subscribe(BOB, "").is_err());
    assert!(s.unsubscribe(BOB, "b").unwrap());
    assert!(!s.unsubscribe(BOB, "b").unwrap());
    assert_eq!(s.subscriptions(ALICE).unwrap(), ["Other"]);
    let work = s.create_folder(BOB, "Work", None).unwrap();
    s.set_subscribed(work, false).unwrap();
    assert!(!s.folder_state(work).unwrap().subscribed);
    assert!(matches!(
        s.set_subscribed(u64::MAX, true),
        Err(StorageError::NotFound(_))
    ));
}

#[test]
fn del_account_removes_folders_usage_and_grants() {
    let Some(f) = fixture("del_account_removes_folders_usage_and_grants") else {
        return;
    };
    let s = &f.store;
    let inbox = s.folder_id(BOB, "INBOX").unwrap().unwrap();
    let sub = s.create_folder(BOB, "Sub/Deeper", None).unwrap();
    put_message(s, inbox, b"bob's", false);
    put_message(s, sub, b"bob's", false);
    let alices = s.folder_id(ALICE, "INBOX").unwrap().unwrap();
    s.set_acl(alices, BOB, "lr").unwrap();
    s.subscribe(BOB, "Sub").unwrap();
    s.set_metadata(
        MetadataOwner::Server,
        BOB,
        &[("/private/theme".into(), Some(b"dark".to_vec()))],
    )
    .unwrap();
    assert_eq!(s.blob_refcount(&BlobId::of(b"bob's")).unwrap(), 2);

    s.del_account(BOB).unwrap();
    assert!(matches!(
        s.folder_state(inbox),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        s.folder_state(sub),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        s.list_folders(BOB),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(s.blob_refcount(&BlobId::of(b"bob's")).unwrap(), 0);
    assert!(s.get_acl(alices).unwrap().is_empty());
    assert!(s.subscriptions(BOB).unwrap().is_empty());
    assert!(s.metadata(MetadataOwner::Server, BOB).unwrap().is_empty());
    let quota_rows: i64 = s
        .pool()
        .with(|c| {
            c.query_one("SELECT count(*) FROM quota WHERE account = $1", &[&BOB])
                .map_err(super::pool::pg_error)
        })
        .unwrap()
        .get(0);
    assert_eq!(quota_rows, 0);
    assert_eq!(s.list_folders(ALICE).unwrap().len(), DEFAULT_FOLDERS.len());
    assert!(matches!(s.del_account(BOB), Err(StorageError::NotFound(_))));
}
