//! The queue, its leases across nodes and the sweep on PostgreSQL, beyond the conformance
//! suite. Each test has its own schema; several stores (nodes) share it and one blob
//! directory, as the nodes of a cluster do. Without `FERRYMAIL_TEST_PG_URL` every test
//! says that it skipped.

use std::fs::{self, File};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::blobrefs::RefDelta;
use super::queue::consume_recipient_tx;
use super::{testing, PgStore};
use crate::storage::conformance::DataDir;
use crate::storage::{
    QueueName, QueueRecipient, QueueRecord, StorageError, SweepReport, ORPHAN_GRACE, PUBLIC_OWNER,
};

/// One test's database: a schema, a shared blob directory and the nodes opened on it.
struct Cluster {
    url: String,
    schema: String,
    dir: DataDir,
}

impl Cluster {
    fn new(test: &str) -> Option<Cluster> {
        let url = testing::url(test)?;
        let dir = DataDir::make();
        let schema = testing::schema_for(dir.path());
        Some(Cluster { url, schema, dir })
    }

    /// Opens node `node` with queue leases of `lease`, its own data directory, the shared
    /// blobs.
    fn node(&self, node: &str, lease: Duration) -> PgStore {
        let mut cfg = testing::config(&self.url, &self.schema, node);
        cfg.lease = lease;
        let blobs = self.dir.path().join("blobs");
        PgStore::open(&self.dir.path().join(node), Some(&blobs), &cfg).expect("open node")
    }

    /// A direct connection to the schema, for building crash states.
    fn sql(&self) -> postgres::Client {
        let mut c = self
            .url
            .parse::<postgres::Config>()
            .and_then(|c| c.connect(postgres::NoTls))
            .expect("connect");
        c.batch_execute(&format!(
            "SET search_path TO {}",
            super::pool::quote_ident(&self.schema)
        ))
        .expect("search_path");
        c
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        testing::drop_schema(&self.url, &self.schema);
    }
}

const LONG: Duration = Duration::from_secs(600);

/// A record of `queue` with a durable body `content`, not yet put.
fn record(store: &PgStore, queue: QueueName, content: &[u8], rcpts: &[&str]) -> QueueRecord {
    let mut rec = QueueRecord::inbound(
        store.next_queue_id().expect("queue id"),
        store.blobs().put(content).expect("body"),
        content.len() as u64,
        "sender@remote.test".into(),
        rcpts.iter().map(|r| QueueRecipient::new(r)).collect(),
        "127.0.0.1".into(),
        1_700_000_000,
    );
    rec.queue = queue;
    rec
}

fn queued(store: &PgStore, queue: QueueName, content: &[u8]) -> QueueRecord {
    let rec = record(store, queue, content, &["bob@example.com"]);
    store.queue_put(&rec).expect("put");
    rec
}

fn ids(recs: &[QueueRecord]) -> Vec<u64> {
    recs.iter().map(|r| r.id).collect()
}

/// The lease of record `id`: (owner, until).
fn lease_of(store: &PgStore, id: u64) -> Option<(String, i64)> {
    let leases = store.queue_leases().expect("leases");
    leases
        .into_iter()
        .find(|l| l.id == id)
        .map(|l| (l.owner, l.until))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[test]
fn ids_are_unique_and_increasing_across_nodes() {
    let Some(cl) = Cluster::new("ids_are_unique_and_increasing_across_nodes") else {
        return;
    };
    let (a, b) = (cl.node("a", LONG), cl.node("b", LONG));
    let mut last = 0;
    for i in 0..20 {
        let id = if i % 2 == 0 { &a } else { &b }.next_queue_id().unwrap();
        assert!(id > last, "{id} after {last}");
        last = id;
    }
}

#[test]
fn writes_lease_the_record_to_the_writer() {
    let Some(cl) = Cluster::new("writes_lease_the_record_to_the_writer") else {
        return;
    };
    let (a, b) = (cl.node("a", LONG), cl.node("b", LONG));
    let rec = queued(&a, QueueName::Inbound, b"leased");
    let (owner, until) = lease_of(&a, rec.id).expect("leased");
    assert_eq!(owner, "a");
    assert!(until >= unix_now() + 500, "until {until}");
    // Whoever moves it next works on it.
    b.queue_move(rec.id, QueueName::Inbound, QueueName::Remote)
        .unwrap();
    assert_eq!(lease_of(&a, rec.id).map(|l| l.0).as_deref(), Some("b"));
    let mut local = rec.clone();
    local.id = a.next_queue_id().unwrap();
    local.queue = QueueName::Local;
    a.queue_replace(QueueName::Remote, rec.id, std::slice::from_ref(&local))
        .unwrap();
    assert_eq!(lease_of(&a, local.id).map(|l| l.0).as_deref(), Some("a"));
    assert_eq!(lease_of(&a, rec.id), None, "the replaced record is gone");
    let leases = a.queue_leases().unwrap();
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(leases[0].queue, QueueName::Local);
}

/// A record is put in one queue while its id is in another: refused, nothing changes.
#[test]
fn an_id_lives_in_one_queue() {
    let Some(cl) = Cluster::new("an_id_lives_in_one_queue") else {
        return;
    };
    let a = cl.node("a", LONG);
    let rec = queued(&a, QueueName::Remote, b"one home");
    let mut elsewhere = rec.clone();
    elsewhere.queue = QueueName::Deferred;
    let err = a.queue_put(&elsewhere).unwrap_err();
    assert!(matches!(err, StorageError::Conflict(_)), "{err}");
    assert_eq!(a.queue_find(rec.id).unwrap(), Some(rec.clone()));
    assert_eq!(a.queue_depth(QueueName::Deferred).unwrap(), 0);
    assert_eq!(a.blob_refcount(&rec.blob).unwrap(), 1);
    // Overwriting in its own queue keeps one reference and updates the record.
    let mut updated = rec.clone();
    updated.attempts = 4;
    a.queue_put(&updated).unwrap();
    assert_eq!(
        a.queue_get(QueueName::Remote, rec.id).unwrap(),
        Some(updated)
    );
    assert_eq!(a.blob_refcount(&rec.blob).unwrap(), 1);
}

#[test]
fn consuming_recipients_deletes_the_record_after_the_last() {
    let Some(cl) = Cluster::new("consuming_recipients_deletes_the_record_after_the_last") else {
        return;
    };
    let a = cl.node("a", LONG);
    let rec = record(
        &a,
        QueueName::Local,
        b"two recipients",
        &["bob@example.com", "alice@example.com"],
    );
    a.queue_put(&rec).unwrap();
    let consume = |queue: QueueName, rcpt: usize| -> Result<(), StorageError> {
        let zeroed = a.pool().tx(|tx| {
            let mut refs = RefDelta::default();
            consume_recipient_tx(tx, queue, rec.id, rcpt, &mut refs)?;
            refs.apply(tx, a.blobs())
        })?;
        a.collect_after_commit(&zeroed);
        Ok(())
    };
    consume(QueueName::Local, 1).unwrap();
    let left = a.queue_get(QueueName::Local, rec.id).unwrap().unwrap();
    assert!(left.recipients[1].delivered && !left.recipients[0].delivered);
    assert_eq!(a.blob_refcount(&rec.blob).unwrap(), 1);
    for (queue, rcpt) in [(QueueName::Local, 1), (QueueName::Local, 2)] {
        let err = consume(queue, rcpt).unwrap_err();
        assert!(matches!(err, StorageError::Conflict(_)), "{err}");
    }
    // Not in that queue: Gone (nothing left to report), not Conflict.
    let err = consume(QueueName::Remote, 0).unwrap_err();
    assert!(matches!(err, StorageError::Gone(_)), "{err}");
    consume(QueueName::Local, 0).unwrap();
    assert_eq!(a.queue_find(rec.id).unwrap(), None);
    assert_eq!(a.blob_refcount(&rec.blob).unwrap(), 0);
    a.commit().unwrap();
    a.commit().unwrap();
    assert!(
        !a.blobs().exists(&rec.blob),
        "body of the consumed record kept"
    );
    let err = consume(QueueName::Local, 0).unwrap_err();
    assert!(matches!(err, StorageError::Gone(_)), "{err}");
}

#[test]
fn heartbeat_renews_the_node_and_its_leases() {
    let Some(cl) = Cluster::new("heartbeat_renews_the_node_and_its_leases") else {
        return;
    };
    let a = cl.node("a", LONG);
    let b = cl.node("b", LONG);
    let mine = queued(&a, QueueName::Remote, b"a's");
    let theirs = queued(&b, QueueName::Remote, b"b's");
    // The same node, restarted with a short lease: its heartbeat sets every lease it holds
    // to now + its lease, and leaves b's alone.
    let a_short = cl.node("a", Duration::from_secs(1));
    a_short.heartbeat().unwrap();
    let (owner, until) = lease_of(&a, mine.id).unwrap();
    assert_eq!(owner, "a");
    assert!(until <= unix_now() + 5, "renewed to now + 1 s: {until}");
    assert!(lease_of(&a, theirs.id).unwrap().1 >= unix_now() + 500);
    a.heartbeat().unwrap();
    assert!(lease_of(&a, mine.id).unwrap().1 >= unix_now() + 500);

    let nodes = a.cluster_nodes().unwrap();
    let names: Vec<_> = nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    for n in &nodes {
        assert_eq!(n.leases, 1, "{n:?}");
        assert_eq!(n.version, env!("CARGO_PKG_VERSION"));
        assert!(n.started <= n.seen && n.seen <= unix_now() + 5, "{n:?}");
        assert!(n.seen >= unix_now() - 60, "{n:?}");
    }
    // A node whose row went away is back after its heartbeat.
    cl.sql().execute("DELETE FROM nodes", &[]).unwrap();
    assert!(b.cluster_nodes().unwrap().is_empty());
    b.heartbeat().unwrap();
    let nodes = b.cluster_nodes().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!((nodes[0].name.as_str(), nodes[0].leases), ("b", 1));
}

/// Node a writes records with a short lease and stops renewing; b and c do not touch them
/// while the lease lives, then exactly one of them takes each over.
#[test]
fn expired_leases_are_claimed_once() {
    let Some(cl) = Cluster::new("expired_leases_are_claimed_once") else {
        return;
    };
    let a = cl.node("a", LONG);
    let b = cl.node("b", LONG);
    let c = cl.node("c", LONG);
    let first = queued(&a, QueueName::Inbound, b"one");
    let second = queued(&a, QueueName::Inbound, b"two");
    let other_queue = queued(&a, QueueName::Remote, b"three");
    for node in [&b, &c] {
        assert!(node
            .queue_claim_orphans(QueueName::Inbound, 10)
            .unwrap()
            .is_empty());
        assert!(node
            .queue_claim_startup(QueueName::Inbound)
            .unwrap()
            .is_empty());
    }
    // Its own live records are never orphans to a itself; at start it takes them back.
    assert!(a
        .queue_claim_orphans(QueueName::Inbound, 10)
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(&a.queue_claim_startup(QueueName::Inbound).unwrap()),
        [first.id, second.id]
    );

    // a's last heartbeat, with a 1 s lease; then silence.
    cl.node("a", Duration::from_secs(1)).heartbeat().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let claimer = |node: PgStore| {
        let done = done.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut got = Vec::new();
            while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
                let claimed = node.queue_claim_orphans(QueueName::Inbound, 10).unwrap();
                if !claimed.is_empty() {
                    got.extend(claimed);
                    if got.len() >= 2 {
                        done.store(true, Ordering::SeqCst);
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            got
        })
    };
    let (tb, tc) = (claimer(b.clone()), claimer(c.clone()));
    let (got_b, got_c) = (tb.join().unwrap(), tc.join().unwrap());
    let mut all = ids(&got_b);
    all.extend(ids(&got_c));
    all.sort_unstable();
    assert_eq!(all, [first.id, second.id], "b {got_b:?} c {got_c:?}");
    assert_eq!(
        got_b.iter().chain(&got_c).find(|r| r.id == first.id),
        Some(&first)
    );
    for rec in &got_b {
        assert_eq!(lease_of(&a, rec.id).unwrap().0, "b");
    }
    for rec in &got_c {
        assert_eq!(lease_of(&a, rec.id).unwrap().0, "c");
    }
    // Taken means taken: nobody else gets them while the new lease lives.
    for node in [&a, &b, &c] {
        assert!(node
            .queue_claim_orphans(QueueName::Inbound, 10)
            .unwrap()
            .is_empty());
    }
    assert!(a
        .queue_claim_startup(QueueName::Inbound)
        .unwrap()
        .is_empty());
    // The other queue was not asked for; `max` bounds a claim.
    assert_eq!(lease_of(&a, other_queue.id).unwrap().0, "a");
    assert!(b
        .queue_claim_orphans(QueueName::Remote, 0)
        .unwrap()
        .is_empty());
    let more = queued(&a, QueueName::Remote, b"four");
    cl.node("a", Duration::from_secs(1)).heartbeat().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while got.is_empty() && Instant::now() < deadline {
        got = b.queue_claim_orphans(QueueName::Remote, 1).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(ids(&got), [other_queue.id], "the oldest first, one at most");
    assert_eq!(
        ids(&b.queue_claim_orphans(QueueName::Remote, 5).unwrap()),
        [more.id]
    );
}

/// Records nobody holds (as `storage migrate` writes them) are anyone's at start.
#[test]
fn unleased_records_are_claimed_at_start() {
    let Some(cl) = Cluster::new("unleased_records_are_claimed_at_start") else {
        return;
    };
    let a = cl.node("a", LONG);
    let b = cl.node("b", LONG);
    let rec = queued(&a, QueueName::Deferred, b"migrated");
    cl.sql()
        .execute(
            "UPDATE queue SET lease_owner = NULL, lease_until = NULL",
            &[],
        )
        .unwrap();
    assert!(b.queue_leases().unwrap().is_empty());
    assert_eq!(
        b.queue_claim_startup(QueueName::Deferred).unwrap(),
        vec![rec.clone()]
    );
    assert_eq!(lease_of(&a, rec.id).unwrap().0, "b");
    assert!(a
        .queue_claim_startup(QueueName::Deferred)
        .unwrap()
        .is_empty());
}

/// Sets a file's mtime `age` into the past.
fn age(path: &Path, age: Duration) {
    let file = File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

#[test]
fn sweep_moves_records_with_lost_or_short_bodies_to_bad() {
    let Some(cl) = Cluster::new("sweep_moves_records_with_lost_or_short_bodies_to_bad") else {
        return;
    };
    let a = cl.node("a", LONG);
    let lost = queued(&a, QueueName::Inbound, b"Subject: lost\r\n\r\nbody\r\n");
    let body = b"Subject: cut\r\n\r\na body that is cut in half\r\n";
    let cut = queued(&a, QueueName::Remote, body);
    let fine = queued(&a, QueueName::Remote, b"Subject: fine\r\n\r\nfine\r\n");
    let already_bad = queued(&a, QueueName::Bad, b"Subject: bad\r\n\r\nbad\r\n");
    a.commit().unwrap();
    fs::remove_file(a.blobs().path(&lost.blob)).unwrap();
    fs::remove_file(a.blobs().path(&already_bad.blob)).unwrap();
    File::options()
        .write(true)
        .open(a.blobs().path(&cut.blob))
        .unwrap()
        .set_len(10)
        .unwrap();
    // Another node starts and sweeps.
    let b = cl.node("b", LONG);
    let report = b.sweep(ORPHAN_GRACE).unwrap();
    assert_eq!(report.queue_records_damaged, 2, "{report:?}");
    assert!(b.queue_list(QueueName::Inbound).unwrap().is_empty());
    assert_eq!(ids(&b.queue_list(QueueName::Remote).unwrap()), [fine.id]);
    let bad = b.queue_list(QueueName::Bad).unwrap();
    assert_eq!(ids(&bad), [lost.id, cut.id, already_bad.id]);
    let reason = |i: usize| bad[i].last_error.clone().unwrap_or_default();
    assert!(reason(0).contains("is missing"), "{}", reason(0));
    let expected = format!("has 10 of its {} bytes", body.len());
    assert!(reason(1).contains(&expected), "{}", reason(1));
    assert_eq!(bad[2].last_error, None);
    // The bad records still hold their bodies, missing or not.
    assert_eq!(b.blob_refcount(&lost.blob).unwrap(), 1);
    assert_eq!(b.blob_refcount(&cut.blob).unwrap(), 1);
    // Nothing more to do on the next start.
    assert_eq!(a.sweep(ORPHAN_GRACE).unwrap(), SweepReport::default());
}

#[test]
fn sweep_recounts_references_and_removes_old_orphans() {
    let Some(cl) = Cluster::new("sweep_recounts_references_and_removes_old_orphans") else {
        return;
    };
    let a = cl.node("a", LONG);
    let held = queued(&a, QueueName::Inbound, b"still held");
    let twice = queued(&a, QueueName::Remote, b"held twice");
    let mut copy = record(&a, QueueName::Deferred, b"held twice", &["x@y.test"]);
    copy.blob = twice.blob;
    a.queue_put(&copy).unwrap();
    let stale = a.blobs().put(b"released, stale count").unwrap();
    let old = a.blobs().put(b"an old orphan").unwrap();
    let young = a.blobs().put(b"a young orphan").unwrap();
    a.commit().unwrap();
    {
        // A crash's leftovers: a lost count, a wrong one, a count nothing holds.
        let mut sql = cl.sql();
        sql.execute("DELETE FROM blobrefs WHERE blob = $1", &[&&held.blob.0[..]])
            .unwrap();
        sql.execute(
            "UPDATE blobrefs SET refcount = 7 WHERE blob = $1",
            &[&&twice.blob.0[..]],
        )
        .unwrap();
        sql.execute(
            "INSERT INTO blobrefs (blob, refcount) VALUES ($1, 1)",
            &[&&stale.0[..]],
        )
        .unwrap();
    }
    for blob in [held.blob, twice.blob, stale, old] {
        age(&a.blobs().path(&blob), 2 * ORPHAN_GRACE);
    }
    let b = cl.node("b", LONG);
    let report = b.sweep(ORPHAN_GRACE).unwrap();
    assert_eq!(
        report,
        SweepReport {
            refcounts_fixed: 3,
            orphans_removed: 2,
            orphans_kept: 1,
            ..SweepReport::default()
        }
    );
    assert_eq!(b.blob_refcount(&held.blob).unwrap(), 1);
    assert_eq!(b.blob_refcount(&twice.blob).unwrap(), 2);
    assert_eq!(b.blob_refcount(&stale).unwrap(), 0);
    for (blob, kept) in [
        (held.blob, true),
        (twice.blob, true),
        (stale, false),
        (old, false),
        (young, true),
    ] {
        assert_eq!(b.blobs().exists(&blob), kept, "{blob}");
    }
    // Counted again from a clean state, nothing is wrong.
    let again = a.sweep(ORPHAN_GRACE).unwrap();
    assert_eq!(again.refcounts_fixed, 0, "{again:?}");
    assert_eq!(again.orphans_removed, 0, "{again:?}");
}

/// A writer that read a blob's (wrong) count just before the sweep locked `blobrefs` does
/// not write its stale sum over the sweep's correction.
#[test]
fn sweep_recount_is_not_overwritten_by_a_writer_in_flight() {
    let Some(cl) = Cluster::new("sweep_recount_is_not_overwritten_by_a_writer_in_flight") else {
        return;
    };
    let a = cl.node("a", LONG);
    let rec = queued(&a, QueueName::Remote, b"counted wrong");
    let blob = &rec.blob.0[..];
    let key = i64::from_be_bytes(rec.blob.0[..8].try_into().unwrap());
    let mut writer = cl.sql();
    writer
        .execute("UPDATE blobrefs SET refcount = 7 WHERE blob = $1", &[&blob])
        .unwrap();
    // The writer, as RefDelta::apply does: the blob's lock, then the count.
    let mut tx = writer.transaction().unwrap();
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&key])
        .unwrap();
    let read: i64 = tx
        .query_one("SELECT refcount FROM blobrefs WHERE blob = $1", &[&blob])
        .unwrap()
        .get(0);
    assert_eq!(read, 7);
    let b = cl.node("b", LONG);
    let sweeper = std::thread::spawn(move || b.sweep(ORPHAN_GRACE));
    // Until the sweep finished or waits for the blob's lock.
    let mut watch = cl.sql();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sweeper.is_finished() && Instant::now() < deadline {
        let waiting: i64 = watch
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                 AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1",
                &[&(key >> 32 & 0xffff_ffff), &(key & 0xffff_ffff)],
            )
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Its stale sum: either it waits for the sweep and deadlocks (one side is aborted and,
    // for the sweep, retried), or the sweep already committed and it wins.
    let written = tx.execute(
        "INSERT INTO blobrefs (blob, refcount) VALUES ($1, $2)
         ON CONFLICT (blob) DO UPDATE SET refcount = EXCLUDED.refcount",
        &[&blob, &(read + 1)],
    );
    if written.is_ok() {
        tx.commit().unwrap();
    } else {
        drop(tx);
    }
    let report = sweeper.join().unwrap().unwrap();
    assert_eq!(report.refcounts_fixed, 1, "{report:?}");
    assert_eq!(
        a.blob_refcount(&rec.blob).unwrap(),
        1,
        "the writer's stale count survived the sweep (writer ok: {})",
        written.is_ok()
    );
}

/// A folder message whose body was lost keeps its row and gets `$Damaged`, once. The rows
/// are written as a crash would leave them; the flag goes through the message writes.
#[test]
fn sweep_flags_messages_with_lost_bodies() {
    let Some(cl) = Cluster::new("sweep_flags_messages_with_lost_bodies") else {
        return;
    };
    let a = cl.node("a", LONG);
    let folder = a.create_folder(PUBLIC_OWNER, "Shared", None).unwrap();
    let keep = a
        .blobs()
        .put(b"Subject: fine\r\n\r\nstill here\r\n")
        .unwrap();
    let lose = a.blobs().put(b"Subject: gone\r\n\r\nlost\r\n").unwrap();
    let folder_id = i64::try_from(folder).unwrap();
    {
        let mut sql = cl.sql();
        for (uid, blob) in [(1i64, keep), (2, lose)] {
            sql.execute(
                "INSERT INTO messages (folder, uid, modseq, system_flags, size, internal_date,
                     save_date, blob) VALUES ($1, $2, $2, 0, 10, 0, 0, $3)",
                &[&folder_id, &uid, &&blob.0[..]],
            )
            .unwrap();
            sql.execute(
                "INSERT INTO blobrefs (blob, refcount) VALUES ($1, 1)",
                &[&&blob.0[..]],
            )
            .unwrap();
        }
        sql.execute(
            "UPDATE folders SET uidnext = 3, highest_modseq = 2, exists_count = 2, size = 20
             WHERE id = $1",
            &[&folder_id],
        )
        .unwrap();
    }
    a.commit().unwrap();
    fs::remove_file(a.blobs().path(&lose)).unwrap();
    let b = cl.node("b", LONG);
    let report = b.sweep(ORPHAN_GRACE).unwrap();
    assert_eq!(
        report,
        SweepReport {
            messages_damaged: 1,
            ..SweepReport::default()
        }
    );
    let flagged: Vec<(i64, bool)> = cl
        .sql()
        .query(
            "SELECT uid, '$Damaged' = ANY(keywords) FROM messages WHERE folder = $1 ORDER BY uid",
            &[&folder_id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(flagged, [(1, false), (2, true)], "no row is dropped");
    // Flagged once: the next start neither flags nor logs it again.
    assert_eq!(a.sweep(ORPHAN_GRACE).unwrap(), SweepReport::default());
}

/// What queue_depth costs at 100k records (a measurement, run by hand:
/// `cargo test --lib storage::pg::queue_tests::queue_depth_cost -- --ignored --nocapture`).
#[test]
#[ignore = "a measurement, run by hand"]
fn queue_depth_cost() {
    let Some(cl) = Cluster::new("queue_depth_cost") else {
        return;
    };
    let a = cl.node("a", LONG);
    let rec = queued(&a, QueueName::Remote, b"template");
    let bytes = bincode::serialize(&rec).unwrap();
    let mut sql = cl.sql();
    let insert = Instant::now();
    sql.execute(
        "INSERT INTO queue (id, queue, blob, record, lease_owner, lease_until)
         SELECT 1000000 + g, (ARRAY['inbound','local','remote','deferred','toarchive','bad'])
                [1 + g % 6], $1, $2, 'a', now()
         FROM generate_series(1, 100000) g",
        &[&&rec.blob.0[..], &bytes],
    )
    .unwrap();
    sql.batch_execute("VACUUM ANALYZE queue").unwrap();
    eprintln!("inserted 100000 rows in {:?}", insert.elapsed());
    for round in 0..3 {
        let start = Instant::now();
        let mut total = 0;
        for q in QueueName::ALL {
            total += a.queue_depth(q).unwrap();
        }
        eprintln!(
            "round {round}: depth of all six queues ({total} records) in {:?}",
            start.elapsed()
        );
        assert_eq!(total, 100_001);
    }
    let start = Instant::now();
    for _ in 0..100 {
        a.queue_depth(QueueName::Remote).unwrap();
    }
    eprintln!("100 x depth(remote) in {:?}", start.elapsed());
}
