//! `storage migrate` and `storage check` on real data: a sled data directory with a few
//! thousand messages over several accounts and folders (flags, expunges, ACLs, metadata,
//! URLAUTH keys, subscriptions, queue records), copied into a fresh PostgreSQL schema with
//! an interruption and a resume, then verified. The PostgreSQL parts skip loudly without
//! `FERRYMAIL_TEST_PG_URL`.

use std::path::Path;

use super::check::check;
use super::migrate::{migrate, MigrateOptions, Progress, STOPPED};
use super::pg::PgStore;
use super::pg_testing as testing;
use super::sled::SledStore;
use super::*;

/// Progress that only counts (and checks that phases are well formed).
#[derive(Default)]
struct Count {
    phases: Vec<String>,
    open: bool,
}

impl Progress for Count {
    fn phase(&mut self, name: &str, _total: u64) {
        assert!(!self.open, "phase {name} began inside another");
        self.open = true;
        self.phases.push(name.to_string());
    }
    fn advance(&mut self, _n: u64) {
        assert!(self.open, "progress outside a phase");
    }
    fn end_phase(&mut self) {
        self.open = false;
    }
}

const ACCOUNTS: [&str; 3] = ["ann@example.com", "bob@example.com", "cat@example.org"];
/// Messages appended per folder (three folders per account: 3 × 3 × 240 = 2160).
const PER_FOLDER: usize = 240;

/// Fills `dir` (the embedded backend) and returns what it holds, for comparisons.
fn fill(dir: &Path) {
    set_fast_password_hashing_for_tests(true);
    let (store, w) = Store::open_sled(dir, None).expect("open sled");
    store.add_domain("example.com").unwrap();
    store.add_domain("example.org").unwrap();
    for a in ACCOUNTS {
        store.add_account(a, "pw", a.starts_with("ann")).unwrap();
    }
    store
        .add_alias("team@example.com", "ann@example.com")
        .unwrap();
    store
        .add_alias("team@example.com", "bob@example.com")
        .unwrap();
    store
        .set_quota("bob@example.com", Some(50_000_000), Some(10_000))
        .unwrap();
    store
        .add_send_as("ann@example.com", "@example.org")
        .unwrap();
    store.subscribe("ann@example.com", "Lists/rust").unwrap();
    let public = store
        .create_folder(PUBLIC_OWNER, "Shared/news", None)
        .unwrap();
    store.set_acl(public, "anyone", "lr").unwrap();
    store
        .set_metadata(
            MetadataOwner::Server,
            "ann@example.com",
            &[("/shared/comment".into(), Some(b"server note".to_vec()))],
        )
        .unwrap();
    let mut n = 0u64;
    for a in ACCOUNTS {
        let work = store.create_folder(a, "Work", None).unwrap();
        let deep = store.create_folder(a, "Work/2026/q4", None).unwrap();
        store.set_acl(work, "bob@example.com", "lrs").unwrap();
        store
            .set_metadata(
                MetadataOwner::Folder(work),
                a,
                &[("/private/color".into(), Some(b"blue".to_vec()))],
            )
            .unwrap();
        store.urlauth_key(work, a, true).unwrap();
        let inbox = store.folder_id(a, "INBOX").unwrap().unwrap();
        for folder in [inbox, work, deep] {
            let msgs: Vec<NewMessage> = (0..PER_FOLDER)
                .map(|i| {
                    n += 1;
                    // Every tenth body is the one before it again (reference counts > 1).
                    let shared = if i % 10 == 9 { n - 1 } else { n };
                    let body = format!("Subject: m{shared}\r\n\r\nbody\r\n");
                    let blob = store.blobs().put(body.as_bytes()).unwrap();
                    let mut flags = Flags::default();
                    if i % 3 == 0 {
                        flags.set(Flags::SEEN, true);
                    }
                    if i % 7 == 0 {
                        flags.add_keyword("$Work");
                    }
                    NewMessage {
                        blob,
                        size: body.len() as u64,
                        flags,
                        internal_date: 1_700_000_000 + n as i64,
                    }
                })
                .collect();
            for chunk in msgs.chunks(60) {
                w.folders.append_messages(folder, chunk).unwrap();
            }
            let uids = store.uid_list(folder).unwrap();
            let gone: Vec<u32> = uids.iter().copied().filter(|u| u % 5 == 0).collect();
            w.folders.expunge(folder, &gone).unwrap();
            let flagged: Vec<u32> = uids.iter().copied().filter(|u| u % 4 == 1).collect();
            w.folders
                .store_flags(
                    folder,
                    &flagged,
                    FlagMode::Add,
                    &Flags::system(Flags::FLAGGED),
                    None,
                )
                .unwrap();
        }
        w.folders.claim_recent(inbox).unwrap();
    }
    for (i, q) in [QueueName::Inbound, QueueName::Remote, QueueName::Deferred]
        .into_iter()
        .enumerate()
    {
        for j in 0..40 {
            let body = format!("queued {i} {j}\r\n");
            let blob = store.blobs().put(body.as_bytes()).unwrap();
            let mut rec = QueueRecord::inbound(
                store.next_queue_id().unwrap(),
                blob,
                body.len() as u64,
                "sender@remote.example".into(),
                vec![QueueRecipient::new("bob@example.com")],
                "test".into(),
                1_700_000_000,
            );
            rec.queue = q;
            rec.attempts = j;
            w.queues.queue_put(&rec).unwrap();
        }
    }
    store.commit().unwrap();
}

fn target(url: &str, schema: &str) -> MigrateOptions {
    let mut opts = MigrateOptions::new(url, schema);
    opts.batch = 100;
    opts
}

#[test]
fn migrate_resumes_after_an_interruption_and_verifies() {
    let Some(url) = testing::url("migrate_resumes_after_an_interruption_and_verifies") else {
        return;
    };
    let src = tempfile::TempDir::new().unwrap();
    fill(src.path());
    let schema = format!("{}_mig", testing::schema_for(src.path()));
    testing::drop_schema(&url, &schema);
    let mut opts = target(&url, &schema);

    // Interrupted twice (after the directory and some folder batches, then mid-queues).
    for stop in [5, 30] {
        opts.stop_after = Some(stop);
        let err = migrate(src.path(), None, &opts, &mut Count::default()).expect_err("must stop");
        assert!(err.to_string().contains(STOPPED), "{err}");
    }
    opts.stop_after = None;
    let mut progress = Count::default();
    let v = migrate(src.path(), None, &opts, &mut progress).expect("resumed run");
    assert!(v.ok(), "mismatches: {:#?}", v.mismatches);
    assert!(progress.phases.iter().any(|p| p == "verify"));
    assert!(
        v.lines
            .iter()
            .any(|l| l.starts_with("table messages: 1728 rows")),
        "{:#?}",
        v.lines
    );
    // A run after completion only verifies again.
    let v = migrate(src.path(), None, &opts, &mut Count::default()).unwrap();
    assert!(v.ok(), "{:#?}", v.mismatches);

    // The copy is what an uninterrupted run makes: compare with one.
    let straight = format!("{schema}_s");
    testing::drop_schema(&url, &straight);
    let v2 = migrate(
        src.path(),
        None,
        &target(&url, &straight),
        &mut Count::default(),
    )
    .unwrap();
    assert!(v2.ok());
    assert_eq!(v.lines, v2.lines);

    // Another data directory is refused on a target holding this one.
    let other = tempfile::TempDir::new().unwrap();
    fill(other.path());
    let err = migrate(
        other.path(),
        None,
        &target(&url, &schema),
        &mut Count::default(),
    )
    .expect_err("must refuse");
    assert!(matches!(err, StorageError::Conflict(_)), "{err}");

    read_back(&url, src.path(), &schema);
    testing::drop_schema(&url, &schema);
    testing::drop_schema(&url, &straight);
}

/// `r`, or `None` (with a loud note) while the PostgreSQL method is still a placeholder.
fn written<T>(r: Result<T, StorageError>, what: &str) -> Option<T> {
    match r {
        Err(StorageError::Backend(e)) if e.contains("not implemented yet") => {
            eprintln!("SKIPPED read-back of {what} through the PostgreSQL Store: {e}");
            None
        }
        other => Some(other.unwrap()),
    }
}

/// Reads the copy through a PostgreSQL `Store` and compares with the sled one: accounts,
/// folder states, messages, expunge history, ACLs and queue records. A part whose
/// PostgreSQL method is still a placeholder is skipped loudly.
fn read_back(url: &str, src: &Path, schema: &str) {
    let sled = SledStore::open(src).unwrap();
    let pg_dir = tempfile::TempDir::new().unwrap();
    let pg = PgStore::open(
        pg_dir.path(),
        Some(&src.join("blobs")),
        &testing::config(url, schema, "reader"),
    )
    .unwrap();
    if let Some(got) = written(Directory::list_accounts(&pg), "accounts") {
        assert_eq!(got, Directory::list_accounts(&sled).unwrap());
    }
    let mut compared = 0;
    for owner in ACCOUNTS.into_iter().chain([PUBLIC_OWNER]) {
        let folders = Folders::list_folders(&sled, owner).unwrap();
        if let Some(got) = written(Folders::list_folders(&pg, owner), "folders") {
            assert_eq!(got, folders);
            compared += folders.len();
        }
        for f in folders {
            if let Some(got) = written(Folders::list_messages(&pg, f.id), "messages") {
                assert_eq!(got, Folders::list_messages(&sled, f.id).unwrap());
            }
            if let Some(got) = written(Folders::expunged_since(&pg, f.id, 0), "expunges") {
                assert_eq!(got, Folders::expunged_since(&sled, f.id, 0).unwrap());
            }
            if let Some(got) = written(Folders::get_acl(&pg, f.id), "ACLs") {
                assert_eq!(got, Folders::get_acl(&sled, f.id).unwrap());
            }
        }
    }
    eprintln!("read back {compared} folder states through the PostgreSQL Store");
    for q in QueueName::ALL {
        if let Some(got) = written(Queue::queue_list(&pg, q), "queues") {
            assert_eq!(got, Queue::queue_list(&sled, q).unwrap());
        }
    }
}

/// Damage for `storage check` to find: one body file deleted, one reference count off by one.
fn damage_and_check(store: &Store, bump: impl FnOnce(&BlobId)) {
    let before = check(store).unwrap();
    assert!(before.ok(), "{}", before.render());
    assert_eq!(before.messages, 1728);
    assert_eq!(before.queue_records, 120);
    let inbox = store
        .folder_id("ann@example.com", "INBOX")
        .unwrap()
        .unwrap();
    let msgs = store.list_messages(inbox).unwrap();
    let gone = msgs[0].blob;
    std::fs::remove_file(store.blobs().path(&gone)).unwrap();
    let bumped = msgs[5].blob;
    bump(&bumped);
    let orphan = store.blobs().put(b"nobody refers to this").unwrap();
    let after = check(store).unwrap();
    assert!(!after.ok());
    assert!(
        after.missing.iter().any(|(_, b)| *b == gone),
        "{}",
        after.render()
    );
    assert!(
        after
            .wrong_refcount
            .iter()
            .any(|(b, s, c)| *b == bumped && *s == c + 1),
        "{}",
        after.render()
    );
    assert_eq!(after.orphans, vec![orphan]);
    assert!(after.render().contains("PROBLEMS"));
}

#[test]
fn check_finds_a_missing_body_and_a_wrong_refcount_on_sled() {
    let src = tempfile::TempDir::new().unwrap();
    fill(src.path());
    let sled = SledStore::open(src.path()).unwrap();
    let (store, _w) = Store::new(std::sync::Arc::new(sled.clone()));
    damage_and_check(&store, |blob| sled.test_bump_refcount(blob));
}

#[test]
fn check_finds_a_missing_body_and_a_wrong_refcount_on_postgres() {
    let Some(url) = testing::url("check_finds_a_missing_body_and_a_wrong_refcount_on_postgres")
    else {
        return;
    };
    let src = tempfile::TempDir::new().unwrap();
    fill(src.path());
    let schema = format!("{}_chk", testing::schema_for(src.path()));
    testing::drop_schema(&url, &schema);
    let v = migrate(
        src.path(),
        None,
        &target(&url, &schema),
        &mut Count::default(),
    )
    .unwrap();
    assert!(v.ok());
    let pg = PgStore::open(src.path(), None, &testing::config(&url, &schema, "checker")).unwrap();
    if let Err(StorageError::Backend(e)) = Directory::list_accounts(&pg) {
        eprintln!("SKIPPED storage check on PostgreSQL: {e}");
        testing::drop_schema(&url, &schema);
        return;
    }
    let (store, _w) = Store::new(std::sync::Arc::new(pg.clone()));
    damage_and_check(&store, |blob| pg.test_bump_refcount(blob));
    testing::drop_schema(&url, &schema);
}
