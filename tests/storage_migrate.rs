//! `ferrymail storage migrate` as a real process: a sled data directory with a few thousand
//! messages is copied into a fresh PostgreSQL schema one message per transaction, the
//! process is killed with SIGKILL once some batches are committed, and a second run
//! continues, finishes and verifies (exit 0). `ferrymail storage check` then passes on the
//! source and fails once a body file is deleted. Skipped (loudly) without
//! `FERRYMAIL_TEST_PG_URL`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::proc::{cli, BIN};
use ferrymail::storage::pg_testing as testing;
use ferrymail::storage::{
    set_fast_password_hashing_for_tests, Flags, NewMessage, QueueRecipient, QueueRecord, Store,
};

/// Two accounts, INBOX and Work each, 800 messages per folder, some expunged and flagged;
/// ten queue records.
fn fill(dir: &Path) {
    set_fast_password_hashing_for_tests(true);
    let (store, w) = Store::open_sled(dir, None).expect("open sled");
    store.add_domain("example.com").unwrap();
    for (k, a) in ["ann@example.com", "bob@example.com"]
        .into_iter()
        .enumerate()
    {
        store.add_account(a, "pw", false).unwrap();
        let work = store.create_folder(a, "Work", None).unwrap();
        store.set_acl(work, "anyone", "lr").unwrap();
        let inbox = store.folder_id(a, "INBOX").unwrap().unwrap();
        for (f, folder) in [inbox, work].into_iter().enumerate() {
            let msgs: Vec<NewMessage> = (0..800)
                .map(|i| {
                    let body = format!("Subject: {k} {f} {i}\r\n\r\nbody\r\n");
                    NewMessage {
                        blob: store.blobs().put(body.as_bytes()).unwrap(),
                        size: body.len() as u64,
                        flags: Flags::system(if i % 2 == 0 { Flags::SEEN } else { 0 }),
                        internal_date: 1_700_000_000 + i,
                    }
                })
                .collect();
            for chunk in msgs.chunks(100) {
                w.folders.append_messages(folder, chunk).unwrap();
            }
            let gone: Vec<u32> = (1..=800).filter(|u| u % 9 == 0).collect();
            w.folders.expunge(folder, &gone).unwrap();
        }
    }
    for i in 0..10 {
        let body = format!("queued {i}\r\n");
        let rec = QueueRecord::inbound(
            store.next_queue_id().unwrap(),
            store.blobs().put(body.as_bytes()).unwrap(),
            body.len() as u64,
            "a@remote.example".into(),
            vec![QueueRecipient::new("bob@example.com")],
            "test".into(),
            1_700_000_000,
        );
        w.queues.queue_put(&rec).unwrap();
    }
    store.commit().unwrap();
}

/// Batches recorded in `schema`'s progress table (0 before the table exists).
fn progress_rows(url: &str, schema: &str) -> i64 {
    let Ok(mut c) = url
        .parse::<postgres::Config>()
        .and_then(|c| c.connect(postgres::NoTls))
    else {
        return 0;
    };
    c.query_one(
        &format!("SELECT count(*) FROM \"{schema}\".migration_progress"),
        &[],
    )
    .map(|r| r.get(0))
    .unwrap_or(0)
}

#[test]
fn migrate_killed_mid_way_resumes_and_verifies() {
    let Some(url) = testing::url("migrate_killed_mid_way_resumes_and_verifies") else {
        return;
    };
    let dir = tempfile::TempDir::new().unwrap();
    fill(dir.path());
    let config = dir.path().join("ferrymail.toml");
    std::fs::write(
        &config,
        format!(
            "hostname = \"mx.example.com\"\ndata_dir = \"{}\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let schema = format!("{}_kill", testing::schema_for(dir.path()));
    testing::drop_schema(&url, &schema);
    let args = [
        "storage", "migrate", "--to", "postgres", "--url", &url, "--schema", &schema, "--batch",
        "1",
    ];

    let mut child = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once some folder batches are in (one message each), long before the end.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the migration ended before it could be interrupted"
        );
        if progress_rows(&url, &schema) >= 4 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress within 120 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let (ok, out) = cli(&config, &args);
    assert!(ok, "{out}");
    assert!(
        out.contains("verified: the copy equals the source"),
        "{out}"
    );
    assert!(out.contains("table messages: 2848 rows (equal)"), "{out}");

    let (ok, out) = cli(&config, &["storage", "check"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("OK: 14 folders, 2848 messages, 10 queue records"),
        "{out}"
    );
    let blob = {
        // Store and writers both go at the end of the block (sled's lock with them).
        let (store, _writers) = Store::open_sled(dir.path(), None).unwrap();
        let inbox = store
            .folder_id("ann@example.com", "INBOX")
            .unwrap()
            .unwrap();
        let blob = store.list_messages(inbox).unwrap()[3].blob;
        std::fs::remove_file(store.blobs().path(&blob)).unwrap();
        blob
    };
    let (ok, out) = cli(&config, &["storage", "check"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("missing body: ") && out.contains(&blob.to_string()),
        "{out}"
    );
    testing::drop_schema(&url, &schema);
}
