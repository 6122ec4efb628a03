//! The folder catalog on PostgreSQL beyond the conformance suite: parents, placeholders,
//! renames with children, RENAME INBOX, visibility by ACL, METADATA, URLAUTH keys, and two
//! creations of one name racing. Each test has its own schema; without
//! `FERRYMAIL_TEST_PG_URL` each says SKIPPED.

use super::folders::{create_folder_tx, db_id};
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
