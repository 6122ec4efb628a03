//! The PostgreSQL message operations beyond what the conformance suite checks: COPY, MOVE,
//! REPLACE, MULTIAPPEND all or none, \Recent, POP3's update, a queue recipient consumed
//! exactly once, the trimming of the expunge history, quota, notifications, and two nodes
//! appending to one folder at once. Each test has its own schema; without
//! `FERRYMAIL_TEST_PG_URL` each says that it skipped.
//!
//! Folders and quota rows are made with SQL here, so that these tests need nothing of the
//! directory and catalog methods.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::testing;
use super::super::PgStore;
use crate::storage::conformance::DataDir;
use crate::storage::*;

const BOB: &str = "bob@example.com";

/// A store on its own schema, with a direct connection to it for setting up and looking.
struct Fixture {
    url: String,
    schema: String,
    pg: PgStore,
    store: Store,
    writers: Writers,
    sql: postgres::Client,
    _dir: DataDir,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        testing::drop_schema(&self.url, &self.schema);
    }
}

fn fixture(test: &str) -> Option<Fixture> {
    let url = testing::url(test)?;
    let dir = DataDir::make();
    let schema = testing::schema_for(dir.path());
    let pg = PgStore::open(
        dir.path(),
        None,
        &testing::config(&url, &schema, "test-node"),
    )
    .expect("open the PostgreSQL backend");
    let (store, writers) = Store::new(Arc::new(pg.clone()));
    let mut sql: postgres::Client = url
        .parse::<postgres::Config>()
        .and_then(|c| c.connect(postgres::NoTls))
        .expect("connect to the test database");
    sql.batch_execute(&format!(
        "SET search_path TO {}",
        super::super::pool::quote_ident(&schema)
    ))
    .expect("search_path");
    Some(Fixture {
        url,
        schema,
        pg,
        store,
        writers,
        sql,
        _dir: dir,
    })
}

impl Fixture {
    /// A new empty folder of `account` ('' for public), with a quota row for an account.
    fn folder(&mut self, account: &str, name: &str) -> FolderId {
        let id: i64 = self
            .sql
            .query_one(
                "INSERT INTO folders (id, account, name, name_key, uidvalidity, uidnext,
                                      highest_modseq, subscribed)
                 VALUES (nextval('folder_ids'), $1, $2, $2, 7, 1, 1, true) RETURNING id",
                &[&account, &name],
            )
            .expect("insert folder")
            .get(0);
        if !account.is_empty() {
            self.sql
                .execute(
                    "INSERT INTO quota (account) VALUES ($1) ON CONFLICT DO NOTHING",
                    &[&account],
                )
                .expect("insert quota");
        }
        id as FolderId
    }

    fn set_limits(&mut self, account: &str, storage: Option<i64>, messages: Option<i64>) {
        self.sql
            .execute(
                "UPDATE quota SET storage_limit = $2, messages_limit = $3 WHERE account = $1",
                &[&account, &storage, &messages],
            )
            .expect("set limits");
    }

    /// (bytes, messages) used by `account`.
    fn usage(&mut self, account: &str) -> (i64, i64) {
        let row = self
            .sql
            .query_one(
                "SELECT storage_used, messages_used FROM quota WHERE account = $1",
                &[&account],
            )
            .expect("read quota");
        (row.get(0), row.get(1))
    }

    /// (uidnext, highest_modseq, exists, unseen, deleted, size) of a folder's row.
    fn counters(&mut self, folder: FolderId) -> [i64; 6] {
        let row = self
            .sql
            .query_one(
                "SELECT uidnext, highest_modseq, exists_count, unseen, deleted, size
                 FROM folders WHERE id = $1",
                &[&(folder as i64)],
            )
            .expect("read folder");
        [0, 1, 2, 3, 4, 5].map(|i| row.get(i))
    }

    fn message(&self, content: &[u8], flags: Flags) -> NewMessage {
        NewMessage {
            blob: self.store.blobs().put(content).expect("put body"),
            size: content.len() as u64,
            flags,
            internal_date: 1_700_000_000,
        }
    }

    fn append(&self, folder: FolderId, content: &[u8]) -> (u32, u64) {
        self.writers
            .folders
            .append_message(folder, self.message(content, Flags::default()), None)
            .expect("append")
    }
}

#[test]
fn reads_follow_appends_and_flags() {
    let Some(mut f) = fixture("reads_follow_appends_and_flags") else {
        return;
    };
    let folder = f.folder(BOB, "INBOX");
    let mut flags = Flags::system(Flags::SEEN);
    flags.add_keyword("$Label1");
    flags.add_keyword("$label1");
    let (u1, m1) = f
        .writers
        .folders
        .append_message(folder, f.message(b"one", flags), None)
        .unwrap();
    let (u2, m2) = f.append(folder, b"two!");
    assert_eq!((u1, u2), (1, 2));
    assert!(m2 > m1);
    let all = f.store.list_messages(folder).unwrap();
    assert_eq!(all.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(all[0].flags.keywords, vec!["$Label1".to_string()]);
    assert_eq!(all[0].modseq, m1);
    assert!(all[0].save_date > 0);
    assert_eq!(f.store.messages_from(folder, 2).unwrap(), all[1..].to_vec());
    assert_eq!(
        f.store.get_message(folder, 1).unwrap(),
        Some(all[0].clone())
    );
    assert_eq!(f.store.get_message(folder, 9).unwrap(), None);
    assert_eq!(f.store.uid_list(folder).unwrap(), vec![1, 2]);
    assert_eq!(f.store.message_count(folder).unwrap(), 2);
    assert_eq!(f.store.folder_keywords(folder).unwrap(), vec!["$Label1"]);
    assert_eq!(f.counters(folder), [3, m2 as i64, 2, 1, 0, 7]);
    assert_eq!(f.usage(BOB), (7, 2));
    assert_eq!(
        f.store.changed_since(folder, m1).unwrap(),
        all[1..].to_vec()
    );

    // STORE with UNCHANGEDSINCE: uid 2 changed after m1, so it is reported, not changed.
    let del = Flags::system(Flags::DELETED);
    let r = f
        .writers
        .folders
        .store_flags(folder, &[2, 1, 1, 5], FlagMode::Add, &del, Some(m1))
        .unwrap();
    assert_eq!(r.modified, vec![2]);
    assert_eq!(r.changed.len(), 1);
    let (uid, new_flags, modseq) = r.changed[0].clone();
    assert_eq!((uid, modseq, r.highest_modseq), (1, m2 + 1, m2 + 1));
    assert!(new_flags.has(Flags::DELETED) && new_flags.has(Flags::SEEN));
    assert_eq!(f.counters(folder), [3, (m2 + 1) as i64, 2, 1, 1, 7]);
    let changed = f.store.changed_since(folder, m2).unwrap();
    assert_eq!(changed.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![1]);
    // The same flags again change nothing and keep the modseq.
    let same = f.store.get_message(folder, 1).unwrap().unwrap().flags;
    assert_eq!(
        f.writers.folders.set_flags(folder, 1, same).unwrap(),
        m2 + 1
    );
    assert_eq!(f.counters(folder)[1], (m2 + 1) as i64);
    assert!(matches!(
        f.writers.folders.set_flags(folder, 9, Flags::default()),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        f.store.list_messages(folder + 1000),
        Err(StorageError::NotFound(_))
    ));
}

#[test]
fn copy_move_and_replace() {
    let Some(mut f) = fixture("copy_move_and_replace") else {
        return;
    };
    let inbox = f.folder(BOB, "INBOX");
    let trash = f.folder(BOB, "Trash");
    let (u1, _) = f.append(inbox, b"first");
    let (u2, _) = f.append(inbox, b"second");
    let blob1 = f.store.get_message(inbox, u1).unwrap().unwrap().blob;

    let pairs = f
        .writers
        .folders
        .copy_messages(inbox, &[u2, 99, u1], trash)
        .unwrap();
    assert_eq!(pairs, vec![(u2, 1), (u1, 2)]);
    assert_eq!(f.store.blob_refcount(&blob1).unwrap(), 2);
    assert_eq!(f.usage(BOB), (22, 4));
    assert_eq!(f.store.message_count(trash).unwrap(), 2);

    let before = f.counters(inbox)[1] as u64;
    let (pairs, modseq) = f
        .writers
        .folders
        .move_messages(inbox, &[u1], trash)
        .unwrap();
    assert_eq!(pairs, vec![(u1, 3)]);
    assert_eq!(modseq, before + 1);
    assert_eq!(f.store.uid_list(inbox).unwrap(), vec![u2]);
    assert_eq!(f.store.expunged_since(inbox, before).unwrap(), vec![u1]);
    assert_eq!(f.store.blob_refcount(&blob1).unwrap(), 2);
    assert_eq!(f.usage(BOB), (22, 4));

    // REPLACE of a missing UID changes nothing.
    let replacement = f.message(b"second, edited", Flags::system(Flags::SEEN));
    let counters = (f.counters(inbox), f.counters(trash));
    assert!(matches!(
        f.writers
            .folders
            .replace_message(inbox, u1, trash, &replacement),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!((f.counters(inbox), f.counters(trash)), counters);

    let (new, expunged, added) = f
        .writers
        .folders
        .replace_message(inbox, u2, trash, &replacement)
        .unwrap();
    assert_eq!(new, 4);
    assert_eq!(expunged, counters.0[1] as u64 + 1);
    assert_eq!(added, counters.1[1] as u64 + 1);
    assert!(f.store.uid_list(inbox).unwrap().is_empty());
    assert_eq!(f.usage(BOB), (22 - 6 + 14, 4));

    // Nothing to move: both folders unchanged, the modseq of `from` as it was.
    let (pairs, modseq) = f
        .writers
        .folders
        .move_messages(inbox, &[u1, u2], trash)
        .unwrap();
    assert!(pairs.is_empty());
    assert_eq!(modseq, expunged);
}

#[test]
fn multiappend_is_all_or_none() {
    let Some(mut f) = fixture("multiappend_is_all_or_none") else {
        return;
    };
    let folder = f.folder(BOB, "INBOX");
    let good = f.message(b"good", Flags::default());
    let mut missing = f.message(b"body that is gone", Flags::default());
    missing.blob = BlobId::of(b"never stored");
    let before = f.counters(folder);
    let err = f
        .writers
        .folders
        .append_messages(folder, &[good.clone(), missing])
        .unwrap_err();
    assert!(matches!(err, StorageError::NotFound(_)), "{err}");
    assert_eq!(f.counters(folder), before);
    assert_eq!(f.store.blob_refcount(&good.blob).unwrap(), 0);
    assert_eq!(f.usage(BOB), (0, 0));

    let (uids, modseq) = f
        .writers
        .folders
        .append_messages(folder, &[good.clone(), good.clone()])
        .unwrap();
    assert_eq!(uids, vec![1, 2]);
    assert_eq!(modseq, before[1] as u64 + 1, "one modseq for the command");
    assert_eq!(f.store.blob_refcount(&good.blob).unwrap(), 2);
}

#[test]
fn quota_is_charged_and_enforced() {
    let Some(mut f) = fixture("quota_is_charged_and_enforced") else {
        return;
    };
    let inbox = f.folder(BOB, "INBOX");
    let archive = f.folder(BOB, "Archive");
    let public = f.folder("", "News");
    f.append(inbox, b"12345");
    f.set_limits(BOB, Some(8), None);
    let counters = f.counters(inbox);
    let err = f
        .writers
        .folders
        .append_message(inbox, f.message(b"6789", Flags::default()), None)
        .unwrap_err();
    assert!(matches!(
        err,
        StorageError::OverQuota {
            resource: "STORAGE"
        }
    ));
    assert_eq!(f.counters(inbox), counters);
    assert_eq!(f.usage(BOB), (5, 1));
    // COPY would double the usage: refused whole.
    assert!(matches!(
        f.writers.folders.copy_messages(inbox, &[1], archive),
        Err(StorageError::OverQuota { .. })
    ));
    assert_eq!(f.store.message_count(archive).unwrap(), 0);
    // MOVE within one owner changes no usage, so it passes at the limit.
    f.set_limits(BOB, Some(5), Some(1));
    f.writers
        .folders
        .move_messages(inbox, &[1], archive)
        .unwrap();
    assert_eq!(f.usage(BOB), (5, 1));
    f.set_limits(BOB, None, Some(1));
    assert!(matches!(
        f.writers
            .folders
            .append_message(archive, f.message(b"x", Flags::default()), None),
        Err(StorageError::OverQuota {
            resource: "MESSAGE"
        })
    ));
    // Expunging refunds; public folders count against nobody.
    f.writers.folders.expunge(archive, &[1]).unwrap();
    assert_eq!(f.usage(BOB), (0, 0));
    f.append(public, b"public news");
    assert_eq!(f.usage(BOB), (0, 0));
    let rows: i64 = f
        .sql
        .query_one("SELECT count(*) FROM quota WHERE account = ''", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
}

#[test]
fn claim_recent_moves_the_watermark_once() {
    let Some(mut f) = fixture("claim_recent_moves_the_watermark_once") else {
        return;
    };
    let folder = f.folder(BOB, "INBOX");
    f.append(folder, b"a");
    f.append(folder, b"b");
    assert_eq!(f.store.recent_count(folder).unwrap(), 2);
    assert_eq!(f.writers.folders.claim_recent(folder).unwrap(), 1);
    assert_eq!(f.store.recent_count(folder).unwrap(), 0);
    assert_eq!(f.writers.folders.claim_recent(folder).unwrap(), 3);
    f.append(folder, b"c");
    f.append(folder, b"d");
    f.writers.folders.expunge(folder, &[3]).unwrap();
    assert_eq!(f.store.recent_count(folder).unwrap(), 1);
    assert_eq!(f.writers.folders.claim_recent(folder).unwrap(), 3);
    assert_eq!(f.counters(folder)[0], 5);
    assert!(matches!(
        f.writers.folders.claim_recent(folder + 1000),
        Err(StorageError::NotFound(_))
    ));
}

#[test]
fn update_maildrop_is_all_or_nothing() {
    let Some(mut f) = fixture("update_maildrop_is_all_or_nothing") else {
        return;
    };
    let folder = f.folder(BOB, "INBOX");
    f.append(folder, b"one");
    f.append(folder, b"two");
    let before = f.counters(folder);
    let err = f
        .writers
        .folders
        .update_maildrop(folder, &[2], &[1], || {
            Err(StorageError::Io(std::io::Error::other("injected")))
        })
        .unwrap_err();
    assert!(matches!(err, StorageError::Io(_)));
    assert_eq!(f.counters(folder), before);
    assert_eq!(f.store.uid_list(folder).unwrap(), vec![1, 2]);
    assert!(!f
        .store
        .get_message(folder, 2)
        .unwrap()
        .unwrap()
        .flags
        .has(Flags::SEEN));

    let (result, modseq) = f
        .writers
        .folders
        .update_maildrop(folder, &[2], &[1], || Ok(()))
        .unwrap();
    assert_eq!(modseq, before[1] as u64 + 1);
    assert_eq!(result.highest_modseq, modseq);
    assert_eq!(result.changed.len(), 1);
    assert_eq!(result.changed[0].0, 2);
    assert_eq!(f.store.uid_list(folder).unwrap(), vec![2]);
    assert_eq!(f.store.expunged_since(folder, 0).unwrap(), vec![1]);
    assert_eq!(f.counters(folder)[2..5], [1, 0, 0]);
}

#[test]
fn consumed_recipient_is_delivered_exactly_once() {
    let Some(mut f) = fixture("consumed_recipient_is_delivered_exactly_once") else {
        return;
    };
    let folder = f.folder(BOB, "INBOX");
    let msg = f.message(b"queued body", Flags::default());
    let rec = QueueRecord::inbound(
        41,
        msg.blob,
        msg.size,
        "sender@example.net".into(),
        vec![QueueRecipient::new(BOB), QueueRecipient::new(BOB)],
        "test".into(),
        1_700_000_000,
    );
    let rec = QueueRecord {
        queue: QueueName::Local,
        ..rec
    };
    let bytes = bincode::serialize(&rec).unwrap();
    f.sql
        .execute(
            "INSERT INTO queue (id, queue, blob, record, lease_owner, lease_until, domains)
             VALUES (41, 'local', $1, $2, 'test-node', now() + interval '1 hour',
                     '{example.com}')",
            &[&&msg.blob.0[..], &bytes],
        )
        .unwrap();
    f.sql
        .execute(
            "INSERT INTO blobrefs (blob, refcount) VALUES ($1, 1)",
            &[&&msg.blob.0[..]],
        )
        .unwrap();
    let consume = |rcpt| {
        f.writers
            .folders
            .append_message(folder, msg.clone(), Some((QueueName::Local, 41, rcpt)))
    };
    consume(0).unwrap();
    assert!(matches!(consume(0), Err(StorageError::Conflict(_))));
    assert!(matches!(consume(5), Err(StorageError::Conflict(_))));
    assert_eq!(f.store.message_count(folder).unwrap(), 1);
    assert_eq!(f.store.blob_refcount(&msg.blob).unwrap(), 2);
    // The record with a recipient left keeps its queue, body, lease and domain index, and
    // says which recipient was delivered.
    let row = f
        .sql
        .query_one(
            "SELECT queue, blob, lease_owner, lease_until > now(), domains, record
             FROM queue WHERE id = 41",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "local");
    assert_eq!(row.get::<_, Vec<u8>>(1), msg.blob.0.to_vec());
    assert_eq!(
        row.get::<_, Option<String>>(2).as_deref(),
        Some("test-node")
    );
    assert_eq!(row.get::<_, Option<bool>>(3), Some(true));
    assert_eq!(
        row.get::<_, Option<Vec<String>>>(4),
        Some(vec!["example.com".to_string()])
    );
    let kept = crate::storage::queue_codec::decode_record(row.get(5)).unwrap();
    assert!(kept.recipients[0].delivered);
    assert!(!kept.recipients[1].delivered);
    consume(1).unwrap();
    // The last recipient deleted the record and its reference: two messages hold the blob.
    assert_eq!(f.store.blob_refcount(&msg.blob).unwrap(), 2);
    let left: i64 = f
        .sql
        .query_one("SELECT count(*) FROM queue", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    assert!(matches!(consume(1), Err(StorageError::Gone(_))));
    assert_eq!(f.store.message_count(folder).unwrap(), 2);
    assert_eq!(f.usage(BOB), (22, 2));
}

#[test]
fn expunge_history_is_trimmed_with_a_horizon() {
    let Some(mut f) = fixture("expunge_history_is_trimmed_with_a_horizon") else {
        return;
    };
    f.pg.set_expunged_keep(10);
    let folder = f.folder(BOB, "INBOX");
    let mut modseqs = Vec::new();
    for i in 0..30u32 {
        f.append(folder, format!("message {i}").as_bytes());
    }
    assert_eq!(f.store.vanished_horizon(folder).unwrap(), 0);
    for uid in 1..=25u32 {
        modseqs.push(f.writers.folders.expunge(folder, &[uid]).unwrap());
    }
    let horizon = f.store.vanished_horizon(folder).unwrap();
    assert!(horizon > 0, "the history was trimmed");
    let kept = f.store.expunged_since(folder, 0).unwrap();
    assert!(kept.len() >= 10 && kept.len() <= 11, "{kept:?}");
    // Exact above the horizon: every UID expunged after it is there.
    let expected: Vec<u32> = (1..=25u32)
        .zip(&modseqs)
        .filter(|(_, m)| **m > horizon)
        .map(|(uid, _)| uid)
        .collect();
    assert_eq!(f.store.expunged_since(folder, horizon).unwrap(), expected);
    let count: i64 = f
        .sql
        .query_one(
            "SELECT expunged_count FROM folders WHERE id = $1",
            &[&(folder as i64)],
        )
        .unwrap()
        .get(0);
    assert_eq!(count as usize, kept.len());
}

#[test]
fn folder_writes_notify_other_nodes() {
    let Some(mut f) = fixture("folder_writes_notify_other_nodes") else {
        return;
    };
    let folder = f.folder(BOB, "INBOX");
    let channel = f.pg.channel("folders");
    let mut listener: postgres::Client = f
        .url
        .parse::<postgres::Config>()
        .and_then(|c| c.connect(postgres::NoTls))
        .unwrap();
    listener
        .batch_execute(&format!(
            "LISTEN {}",
            super::super::pool::quote_ident(&channel)
        ))
        .unwrap();
    let (_, modseq) = f.append(folder, b"hello");
    // Nothing expunged: no change, no notification.
    f.writers.folders.expunge(folder, &[42]).unwrap();
    let modseq2 = f.writers.folders.expunge(folder, &[1]).unwrap();
    let mut heard = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while heard.len() < 2 && Instant::now() < deadline {
        let mut n = listener.notifications();
        let mut it = n.timeout_iter(Duration::from_millis(200));
        use postgres::fallible_iterator::FallibleIterator;
        while let Ok(Some(note)) = it.next() {
            heard.push((note.channel().to_string(), note.payload().to_string()));
        }
    }
    assert_eq!(
        heard,
        vec![
            (channel.clone(), format!("test-node {folder} {modseq}")),
            (channel, format!("test-node {folder} {modseq2}")),
        ]
    );
    let _ = f.counters(folder);
}

/// Two nodes (two stores on one schema) append 200 messages each into one folder at once:
/// every UID is unique, and in modseq order the UIDs increase.
#[test]
fn two_nodes_append_to_one_folder() {
    let Some(mut f) = fixture("two_nodes_append_to_one_folder") else {
        return;
    };
    let folder = f.folder(BOB, "INBOX");
    let other = PgStore::open(
        f._dir.path(),
        None,
        &testing::config(&f.url, &f.schema, "other-node"),
    )
    .expect("open the second node");
    let (_, other_writers) = Store::new(Arc::new(other));
    let msg = f.message(b"same body for all", Flags::default());
    let run = |writers: &Writers| -> Vec<(u32, u64)> {
        (0..200)
            .map(|_| {
                writers
                    .folders
                    .append_message(folder, msg.clone(), None)
                    .expect("append")
            })
            .collect()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| run(&f.writers));
        let b = s.spawn(|| run(&other_writers));
        (a.join().expect("node a"), b.join().expect("node b"))
    });
    let mut all: Vec<(u64, u32)> = a.iter().chain(&b).map(|(u, m)| (*m, *u)).collect();
    all.sort_unstable();
    assert_eq!(all.len(), 400);
    assert!(
        all.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1),
        "UIDs increase with modseqs"
    );
    let uids = f.store.uid_list(folder).unwrap();
    assert_eq!(uids, (1..=400).collect::<Vec<u32>>());
    assert_eq!(f.counters(folder)[0], 401);
    assert_eq!(f.counters(folder)[2], 400);
    assert_eq!(f.store.blob_refcount(&msg.blob).unwrap(), 400);
    assert_eq!(f.usage(BOB).1, 400);
}

/// A local record for two recipients of `f`'s blob, stored as the queue writes it (one
/// reference on its body).
fn queued_for_two(f: &mut Fixture, id: u64, msg: &NewMessage) -> QueueRecord {
    let rec = QueueRecord::inbound(
        id,
        msg.blob,
        msg.size,
        "sender@example.net".into(),
        vec![QueueRecipient::new(BOB), QueueRecipient::new(BOB)],
        "test".into(),
        1_700_000_000,
    );
    let rec = QueueRecord {
        queue: QueueName::Local,
        ..rec
    };
    f.writers.queues.queue_put(&rec).expect("queue the record");
    rec
}

/// The append consuming a recipient of a record the caller saw as stored writes it in
/// place in the one call; a stale copy still consumes the stored record exactly once.
#[test]
fn a_seen_record_is_consumed_in_place_and_a_stale_one_by_the_stored_record() {
    let Some(mut f) =
        fixture("a_seen_record_is_consumed_in_place_and_a_stale_one_by_the_stored_record")
    else {
        return;
    };
    let folder = f.folder(BOB, "INBOX");
    let msg = f.message(b"queued body", Flags::default());
    let rec = queued_for_two(&mut f, 51, &msg);
    let stored = |f: &mut Fixture| -> Option<QueueRecord> {
        f.store.queue_get(QueueName::Local, 51).unwrap()
    };
    let folders = f.writers.folders.clone();
    folders
        .append_delivery(folder, msg.clone(), &rec, 0)
        .unwrap();
    let kept = stored(&mut f).expect("a recipient left");
    assert!(kept.recipients[0].delivered && !kept.recipients[1].delivered);
    // The stale copy (recipient 0 not marked): the stored record says it was delivered.
    assert!(matches!(
        folders.append_delivery(folder, msg.clone(), &rec, 0),
        Err(StorageError::Conflict(_))
    ));
    // The stale copy for recipient 1: delivered from the stored record, which goes.
    folders
        .append_delivery(folder, msg.clone(), &rec, 1)
        .unwrap();
    assert_eq!(stored(&mut f), None);
    assert!(matches!(
        folders.append_delivery(folder, msg.clone(), &kept, 1),
        Err(StorageError::Gone(_))
    ));
    assert_eq!(f.store.message_count(folder).unwrap(), 2);
    // Two messages hold the body; the record's reference went with it.
    assert_eq!(f.store.blob_refcount(&msg.blob).unwrap(), 2);

    // The fresh copy all the way: both recipients, the last deletes the record.
    let rec = queued_for_two(&mut f, 52, &msg);
    folders
        .append_delivery(folder, msg.clone(), &rec, 0)
        .unwrap();
    let mut seen = rec.clone();
    seen.recipients[0].delivered = true;
    folders
        .append_delivery(folder, msg.clone(), &seen, 1)
        .unwrap();
    assert_eq!(f.store.queue_get(QueueName::Local, 52).unwrap(), None);
    assert_eq!(f.store.blob_refcount(&msg.blob).unwrap(), 4);
}

/// Waits (bounded) until backend `pid` waits for a lock.
fn until_waiting(sql: &mut postgres::Client, pid: i32) {
    for _ in 0..3000 {
        let waiting: bool = sql
            .query_one(
                "SELECT coalesce(bool_or(wait_event_type = 'Lock'), false)
                 FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .unwrap()
            .get(0);
        if waiting {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("backend {pid} never waited for a lock");
}

/// A transaction waiting on the queue row while an append consumes a recipient of it (a
/// lease renewal here) finds the row still there afterwards: the append updates it in
/// place, never deletes and inserts it again.
#[test]
fn a_lease_renewal_waiting_on_a_consumed_record_still_renews_it() {
    let Some(mut f) = fixture("a_lease_renewal_waiting_on_a_consumed_record_still_renews_it")
    else {
        return;
    };
    let folder = f.folder(BOB, "INBOX");
    let msg = f.message(b"queued body", Flags::default());
    let rec = queued_for_two(&mut f, 61, &msg);
    let connect = |f: &Fixture| {
        let mut c: postgres::Client = f
            .url
            .parse::<postgres::Config>()
            .and_then(|c| c.connect(postgres::NoTls))
            .expect("connect");
        c.batch_execute(&format!(
            "SET search_path TO {}",
            super::super::pool::quote_ident(&f.schema)
        ))
        .expect("search_path");
        c
    };
    // Hold the row, so that the append and then the renewal queue up behind it.
    let mut holder = connect(&f);
    let mut hold = holder.transaction().unwrap();
    hold.execute("SELECT 1 FROM queue WHERE id = 61 FOR UPDATE", &[])
        .unwrap();
    let folders = f.writers.folders.clone();
    let (append_msg, append_rec) = (msg.clone(), rec.clone());
    let append =
        std::thread::spawn(move || folders.append_delivery(folder, append_msg, &append_rec, 0));
    // The append's backend is the one waiting on the holder's transaction.
    let holder_pid: i32 = hold
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let mut waiting = false;
    for _ in 0..3000 {
        let n: i64 = f
            .sql
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE $1 = ANY (pg_blocking_pids(pid))",
                &[&holder_pid],
            )
            .unwrap()
            .get(0);
        if n > 0 {
            waiting = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(waiting, "the append never waited on the held row");
    let mut renewer = connect(&f);
    let renewer_pid: i32 = renewer
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let renew = std::thread::spawn(move || {
        renewer
            .execute(
                "UPDATE queue SET lease_until = now() + interval '2 hours'
                 WHERE id = 61 AND lease_owner IS NOT NULL",
                &[],
            )
            .expect("renew")
    });
    until_waiting(&mut f.sql, renewer_pid);
    hold.commit().unwrap();
    append.join().unwrap().expect("the append");
    assert_eq!(renew.join().unwrap(), 1, "the renewal found the row");
    let kept = f
        .store
        .queue_get(QueueName::Local, 61)
        .unwrap()
        .expect("a recipient left");
    assert!(kept.recipients[0].delivered && !kept.recipients[1].delivered);
}
