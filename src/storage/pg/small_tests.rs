//! The smaller stores on PostgreSQL beyond the conformance suite: what several nodes on one
//! schema share (the sealing key, DKIM private keys, TLS report counts), exactly-once
//! `fetch_accept` under repeats and races, and the settings notifications.
//! Each test has its own schema, dropped at the end; without `FERRYMAIL_TEST_PG_URL` each
//! says that it skipped.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;

use super::pool::quote_ident;
use super::{testing, PgStore};
use crate::storage::conformance;
use crate::storage::{
    Accepted, Ban, DkimAlgorithm, FetchSource, FetchStatus, FetchedMessage, QueueName,
    ScreenRecord, ScreenRule, SourceOwner, StorageError,
};

const PEM: &[u8] = b"-----BEGIN PRIVATE KEY-----\nsmall-tests\n-----END PRIVATE KEY-----\n";

/// One schema of the test database for one test, dropped on drop (after the stores).
struct Schema {
    url: String,
    name: String,
    /// The nodes' data directories (the first also names the schema).
    dirs: Vec<tempfile::TempDir>,
    nodes: usize,
}

impl Schema {
    fn new(test: &str) -> Option<Schema> {
        let url = testing::url(test)?;
        let first = tempfile::tempdir().expect("temporary directory");
        let name = testing::schema_for(first.path());
        testing::drop_schema(&url, &name);
        Some(Schema {
            url,
            name,
            dirs: vec![first],
            nodes: 0,
        })
    }

    /// A node on this schema with a data directory of its own.
    fn node(&mut self, node: &str) -> PgStore {
        if self.nodes > 0 {
            self.dirs
                .push(tempfile::tempdir().expect("temporary directory"));
        }
        self.nodes += 1;
        let dir: &Path = self.dirs.last().expect("a directory").path();
        PgStore::open(dir, None, &testing::config(&self.url, &self.name, node))
            .expect("open the PostgreSQL backend")
    }

    /// A plain connection to the schema, for looking at the tables and listening.
    fn client(&self) -> postgres::Client {
        let mut c = self
            .url
            .parse::<postgres::Config>()
            .expect("test URL")
            .connect(postgres::NoTls)
            .expect("connect to the test database");
        c.batch_execute(&format!("SET search_path TO {}", quote_ident(&self.name)))
            .expect("search_path");
        c
    }

    /// A connection listening on the settings channel of this schema.
    fn listen(&self, store: &PgStore) -> postgres::Client {
        let mut c = self.client();
        c.batch_execute(&format!(
            "LISTEN {}",
            quote_ident(&store.channel("settings"))
        ))
        .expect("LISTEN");
        c
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        testing::drop_schema(&self.url, &self.name);
    }
}

/// The settings notifications `listener` receives up to and including the first whose
/// payload is `until` (bounded: 30 s, 1000 notifications).
fn notifications_until(listener: &mut postgres::Client, until: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    while got.len() < 1000 {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no notification {until:?}; got {got:?}");
        let mut notes = listener.notifications();
        let mut iter = notes.timeout_iter(left);
        match iter.next() {
            Ok(Some(n)) => {
                got.push(n.payload().to_string());
                if n.payload() == until {
                    return got;
                }
            }
            Ok(None) => panic!("no notification {until:?} within 30 s; got {got:?}"),
            Err(e) => panic!("notifications: {e}"),
        }
    }
    panic!("no notification {until:?} among {got:?}");
}

fn add_domain(schema: &Schema, domain: &str) {
    schema
        .client()
        .execute(
            "INSERT INTO domains (name, created) VALUES ($1, 0)",
            &[&domain],
        )
        .expect("insert a domain");
}

fn add_key(store: &PgStore, selector: &str) -> Result<crate::storage::DkimKey, StorageError> {
    store.dkim_add(
        "example.com",
        selector,
        DkimAlgorithm::Ed25519,
        "cHVi",
        PEM,
        1000,
    )
}

#[test]
fn a_secret_sealed_on_one_node_opens_on_another() {
    let Some(mut schema) = Schema::new("a_secret_sealed_on_one_node_opens_on_another") else {
        return;
    };
    // Two nodes starting together both make a key; the database keeps one.
    let (a, b) = (schema.node("node-a"), schema.node("node-b"));
    let start = Arc::new(Barrier::new(2));
    let sealed: Vec<Vec<u8>> = [a.clone(), b.clone()]
        .into_iter()
        .map(|store| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                store.seal_secret("remote-pw").expect("seal")
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("sealing thread"))
        .collect();
    for s in &sealed {
        assert!(!s.windows(9).any(|w| w == b"remote-pw"));
        assert_eq!(a.open_secret(s).unwrap(), "remote-pw");
        assert_eq!(b.open_secret(s).unwrap(), "remote-pw");
    }
    // Nothing of it in either data directory: the key is the database's.
    for dir in &schema.dirs {
        assert!(!crate::storage::secrets::key_path(dir.path()).exists());
    }
    // A third node, opened later, reads the same key.
    let c = schema.node("node-c");
    assert_eq!(c.open_secret(&sealed[0]).unwrap(), "remote-pw");
    let keys: i64 = schema
        .client()
        .query_one("SELECT count(*) FROM secrets", &[])
        .unwrap()
        .get(0);
    assert_eq!(keys, 1);
}

#[test]
fn a_dkim_key_made_on_one_node_signs_on_another() {
    let Some(mut schema) = Schema::new("a_dkim_key_made_on_one_node_signs_on_another") else {
        return;
    };
    let (a, b) = (schema.node("node-a"), schema.node("node-b"));
    let mut listener = schema.listen(&a);
    assert!(matches!(add_key(&a, "s1"), Err(StorageError::Invalid(_))));
    add_domain(&schema, "example.com");
    let first = add_key(&a, "S1").unwrap();
    assert_eq!(first.selector, "s1");
    assert!(first.active);
    assert_eq!(
        notifications_until(&mut listener, "node-a dkim"),
        ["node-a dkim"]
    );
    // Node b signs with it: the key and its private half are there.
    assert_eq!(b.dkim_active("EXAMPLE.com").unwrap(), Some(first.clone()));
    assert_eq!(b.dkim_private_key(&first).unwrap(), PEM);
    assert!(matches!(add_key(&b, "s1"), Err(StorageError::Exists(_))));

    let second = add_key(&b, "s2").unwrap();
    assert!(!second.active, "a second key waits for its DNS record");
    let now = a.dkim_activate("example.com", "s2").unwrap();
    assert!(now.active);
    let active: Vec<String> = b
        .dkim_list("example.com")
        .unwrap()
        .into_iter()
        .filter(|k| k.active)
        .map(|k| k.selector)
        .collect();
    assert_eq!(active, ["s2"]);
    let err = b.dkim_delete("example.com", "s2").unwrap_err();
    assert!(err.to_string().contains("activate another"), "{err}");
    b.dkim_delete("example.com", "s1").unwrap();
    assert!(matches!(
        a.dkim_private_key(&first),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        a.dkim_activate("example.com", "s1"),
        Err(StorageError::NotFound(_))
    ));
    // The last key may go: the domain is then unsigned.
    a.dkim_delete("example.com", "s2").unwrap();
    assert_eq!(b.dkim_active("example.com").unwrap(), None);
    assert_eq!(
        notifications_until(&mut listener, "node-a dkim"),
        ["node-b dkim", "node-a dkim"],
        "add on b, activate on a"
    );
}

#[test]
fn first_keys_added_at_once_on_two_nodes_leave_one_active() {
    let Some(mut schema) = Schema::new("first_keys_added_at_once_on_two_nodes_leave_one_active")
    else {
        return;
    };
    let stores = [schema.node("node-a"), schema.node("node-b")];
    add_domain(&schema, "example.com");
    let start = Arc::new(Barrier::new(2));
    let threads: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(i, store)| {
            let (store, start) = (store.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                add_key(&store, &format!("s{i}")).expect("add a key")
            })
        })
        .collect();
    let added: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(added.iter().filter(|k| k.active).count(), 1, "{added:?}");
    let list = stores[0].dkim_list("example.com").unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list.iter().filter(|k| k.active).count(), 1);
}

fn source(store: &PgStore) -> FetchSource {
    let mut source = conformance::bob_source(store.seal_secret("pw").unwrap());
    source.owner = SourceOwner::Account("Bob@example.com".into());
    store.fetch_add_source(source).unwrap()
}

fn fetched(store: &PgStore, source: u64, mark: &str, id: u64, to: &[&str]) -> FetchedMessage {
    conformance::fetched_message(store.blobs(), source, mark, id, to, 1000)
}

/// The (queue, id, lease owner) of every queue row.
fn queue_rows(schema: &Schema) -> Vec<(String, i64, Option<String>)> {
    schema
        .client()
        .query("SELECT queue, id, lease_owner FROM queue ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[test]
fn fetch_accept_takes_a_message_in_once() {
    let Some(mut schema) = Schema::new("fetch_accept_takes_a_message_in_once") else {
        return;
    };
    let (a, b) = (schema.node("node-a"), schema.node("node-b"));
    let s = source(&a);
    assert_eq!(s.id, 1);
    let m = fetched(&a, s.id, "7:1", 10, &["bob@example.com"]);
    let got = a.fetch_accept(&m).unwrap();
    assert_eq!(
        got,
        Accepted::New {
            records: vec![(QueueName::Inbound, 10)],
            suppressed: 0
        }
    );
    // The same message again, on either node, as after a crash between the commit and the
    // remote delete: nothing more is written, and the repeat's body is not held.
    for store in [&a, &b] {
        let again = fetched(store, s.id, "7:1", 11, &["bob@example.com"]);
        assert_eq!(store.fetch_accept(&again).unwrap(), Accepted::AlreadySeen);
    }
    assert_eq!(
        queue_rows(&schema),
        [("inbound".to_string(), 10, Some("node-a".to_string()))]
    );
    assert_eq!(a.blob_refcount(&m.blob).unwrap(), 1);
    assert!(b.fetch_is_seen(s.id, "7:1").unwrap());
    assert_eq!(
        b.fetch_seen(s.id).unwrap(),
        HashSet::from(["7:1".to_string()])
    );

    // Two nodes taking in one new message at the same moment: one of them writes it.
    let start = Arc::new(Barrier::new(2));
    let threads: Vec<_> = [(a.clone(), 20), (b.clone(), 21)]
        .into_iter()
        .map(|(store, id)| {
            let start = start.clone();
            let m = fetched(&store, s.id, "7:2", id, &["bob@example.com"]);
            std::thread::spawn(move || {
                start.wait();
                store.fetch_accept(&m).expect("fetch_accept")
            })
        })
        .collect();
    let results: Vec<Accepted> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Accepted::New { .. }))
            .count(),
        1,
        "{results:?}"
    );
    assert_eq!(queue_rows(&schema).len(), 2);

    // Gone from the server: forgotten; still there: kept.
    let on_server = HashSet::from(["7:2".to_string(), "7:3".to_string()]);
    assert_eq!(a.fetch_forget_gone(s.id, &on_server).unwrap(), 1);
    assert_eq!(
        a.fetch_seen(s.id).unwrap(),
        HashSet::from(["7:2".to_string()])
    );
}

#[test]
fn fetch_sources_owners_status_and_deletion() {
    let Some(mut schema) = Schema::new("fetch_sources_owners_status_and_deletion") else {
        return;
    };
    let (a, b) = (schema.node("node-a"), schema.node("node-b"));
    let mut listener = schema.listen(&a);
    let s = source(&a);
    assert_eq!(
        notifications_until(&mut listener, "node-a fetch"),
        ["node-a fetch"]
    );
    // DomainPOP: set twice keeps the id (and what was fetched).
    let mut dp = FetchSource {
        owner: SourceOwner::Domain("example.com".into()),
        ..s.clone()
    };
    let set = b.fetch_set_domainpop(dp.clone()).unwrap();
    assert_eq!(set.id, 2);
    dp.host = "pop.remote.test".into();
    let again = a.fetch_set_domainpop(dp).unwrap();
    assert_eq!(again.id, 2);
    assert_eq!(
        b.fetch_domainpop("Example.COM").unwrap().map(|s| s.host),
        Some("pop.remote.test".to_string())
    );
    assert!(a.fetch_set_domainpop(s.clone()).is_err(), "not a domain");
    assert_eq!(b.fetch_sources().unwrap().len(), 2);

    a.fetch_accept(&fetched(&a, s.id, "m", 1, &["bob@example.com"]))
        .unwrap();
    a.fetch_set_status(
        s.id,
        &FetchStatus {
            failures: 2,
            ..FetchStatus::default()
        },
    )
    .unwrap();
    assert_eq!(b.fetch_status(s.id).unwrap().failures, 2);
    // Deleting the owner's sources (what deleting the account does) takes their marks.
    let dropped = a
        .pool()
        .tx(|tx| super::fetch::drop_sources_tx(&a, tx, "bob@EXAMPLE.com"))
        .unwrap();
    assert_eq!(dropped, 1);
    assert!(!b.fetch_is_seen(s.id, "m").unwrap());
    assert_eq!(b.fetch_status(s.id).unwrap(), FetchStatus::default());
    assert!(matches!(
        b.fetch_del_source(s.id),
        Err(StorageError::NotFound(_))
    ));
    // A run finishing after its source went stores nothing, and takes nothing in.
    a.fetch_set_status(s.id, &FetchStatus::default()).unwrap();
    let rows: i64 = schema
        .client()
        .query_one("SELECT count(*) FROM fetch_status", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
    assert!(matches!(
        a.fetch_accept(&fetched(&a, s.id, "late", 2, &["bob@example.com"])),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(queue_rows(&schema).len(), 1);
    assert_eq!(b.fetch_del_source(2).unwrap().host, "pop.remote.test");
    assert!(b.fetch_sources().unwrap().is_empty());
    // The ids start again above the highest (none left: 1).
    assert_eq!(source(&b).id, 1);
}

#[test]
fn screening_notifies_ban_and_rule_changes_only() {
    let Some(mut schema) = Schema::new("screening_notifies_ban_and_rule_changes_only") else {
        return;
    };
    let (a, b) = (schema.node("node-a"), schema.node("node-b"));
    add_domain(&schema, "example.com");
    let mut listener = schema.listen(&a);
    let ip: IpAddr = "2001:db8::7".parse().unwrap();
    let mut rec = ScreenRecord {
        auth_failures: vec![10],
        ..ScreenRecord::default()
    };
    // A count: no notification (the DKIM key added after it marks the point).
    a.screen_put_address(ip, Some(&rec)).unwrap();
    a.screen_put_account("bob@example.com", Some(&vec![10]))
        .unwrap();
    add_key(&a, "mark1").unwrap();
    assert_eq!(
        notifications_until(&mut listener, "node-a dkim"),
        ["node-a dkim"]
    );
    // A ban, its end, and the rules notify.
    rec.ban = Some(Ban {
        since: 20,
        until: 620,
        reason: "auth failures".into(),
    });
    a.screen_put_address(ip, Some(&rec)).unwrap();
    let snap = b.screen_load().unwrap();
    assert_eq!(snap.addresses, vec![(ip, rec.clone())]);
    assert_eq!(
        snap.accounts,
        vec![("bob@example.com".to_string(), vec![10])]
    );
    rec.auth_failures.push(30);
    a.screen_put_address(ip, Some(&rec)).unwrap(); // the same ban: no notification
    a.screen_put_address(ip, None).unwrap();
    b.screen_put_rule(ScreenRule::Deny, "203.0.113.0/24", true)
        .unwrap();
    b.screen_put_rule(ScreenRule::Deny, "203.0.113.0/24", true)
        .unwrap(); // already there: no notification
    b.screen_put_rule(ScreenRule::Allow, "10.0.0.0/8", true)
        .unwrap();
    add_key(&a, "mark2").unwrap();
    assert_eq!(
        notifications_until(&mut listener, "node-a dkim"),
        [
            "node-a screening",
            "node-a screening",
            "node-b screening",
            "node-b screening",
            "node-a dkim"
        ]
    );
    let snap = a.screen_load().unwrap();
    assert!(snap.addresses.is_empty());
    assert_eq!(snap.deny, ["203.0.113.0/24"]);
    assert_eq!(snap.allow, ["10.0.0.0/8"]);
    // An unreadable record is skipped with a warning, not an error.
    schema
        .client()
        .execute(
            "INSERT INTO screen_addresses (address, record) VALUES ('192.0.2.1', '\\x01')",
            &[],
        )
        .unwrap();
    assert!(a.screen_load().unwrap().addresses.is_empty());
}

#[test]
fn tls_report_counts_from_two_nodes_add_up() {
    let Some(mut schema) = Schema::new("tls_report_counts_from_two_nodes_add_up") else {
        return;
    };
    let stores = [schema.node("node-a"), schema.node("node-b")];
    let (ok, failed) = conformance::tls_results();
    const EACH: u64 = 20;
    let start = Arc::new(Barrier::new(2));
    let threads: Vec<_> = stores
        .iter()
        .map(|store| {
            let (store, start, ok, failed) =
                (store.clone(), start.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                start.wait();
                for i in 0..EACH {
                    let r = if i % 2 == 0 { &ok } else { &failed };
                    store.tlsrpt_add(19_700, "Remote.test", r).expect("count");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("counting thread");
    }
    stores[0].tlsrpt_add(19_699, "remote.test", &ok).unwrap();
    let list = stores[1].tlsrpt_list().unwrap();
    let days: Vec<(u32, &str)> = list.iter().map(|(d, n, _)| (*d, n.as_str())).collect();
    assert_eq!(days, [(19_699, "remote.test"), (19_700, "remote.test")]);
    let counts = &list[1].2;
    assert_eq!(counts.len(), 1);
    assert_eq!(counts[0].success, EACH);
    assert_eq!(counts[0].failures[0].count, EACH);
    stores[1].tlsrpt_remove(19_700, "REMOTE.test").unwrap();
    assert_eq!(stores[0].tlsrpt_list().unwrap().len(), 1);
}
