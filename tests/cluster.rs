//! Two Ferrymail nodes on one PostgreSQL database, as real processes: changes made through one
//! node reach the IMAP sessions of the other, appends from both nodes into one folder get
//! unique increasing UIDs, a node killed with leased remote deliveries leaves them to the
//! other, and a node killed under SMTP load loses no acknowledged message.
//!
//! Every test needs PostgreSQL (`FERRYMAIL_TEST_PG_URL`, which `.ci/run` sets) and says that
//! it skipped without it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::proc::{
    assert_each_acknowledged_once, cli, message_id, random_delay, random_seed, send_until_killed,
    Running,
};
use ferrymail::storage::{pg_testing, QueueName};

/// A cluster of nodes on one schema of the test database, sharing one blob directory.
struct Cluster {
    dir: tempfile::TempDir,
    url: String,
    schema: String,
}

impl Cluster {
    /// A new cluster, or `None` (with a SKIPPED line) without a test database.
    fn new(test: &str) -> Option<Cluster> {
        let url = pg_testing::url(test)?;
        let dir = tempfile::tempdir().unwrap();
        let schema = pg_testing::schema_for(dir.path());
        Some(Cluster { dir, url, schema })
    }

    /// Writes node `name`'s configuration (its own data directory, the shared blobs, a
    /// 3-second lease) with `sections` at the end; returns its path.
    fn node_config(&self, name: &str, sections: &str) -> PathBuf {
        let data = self.dir.path().join(name);
        std::fs::create_dir_all(&data).unwrap();
        let path = data.join("ferrymail.toml");
        std::fs::write(
            &path,
            format!(
                "hostname = \"mx.test\"\ndata_dir = \"{data}\"\n[listeners]\n\
                 smtp = \"127.0.0.1:0\"\nsubmission = \"127.0.0.1:0\"\nimap = \"127.0.0.1:0\"\n\
                 pop3 = \"127.0.0.1:0\"\n\
                 [imap]\nallow_plaintext_login = true\n[pop3]\nallow_plaintext_login = true\n\
                 [queue]\nlocal_retry_interval = 1\ndeferred_check_interval = 1\n\
                 [server]\nshutdown_grace = 5\n[auth]\nverify = false\n\
                 [storage]\nbackend = \"postgres\"\nurl = \"{url}\"\nschema = \"{schema}\"\n\
                 node = \"{name}\"\nblobs = \"{blobs}\"\nlease = \"3s\"\npoll_interval = \"1s\"\n\
                 {sections}",
                data = data.join("data").display(),
                url = self.url,
                schema = self.schema,
                blobs = self.dir.path().join("blobs").display(),
            ),
        )
        .unwrap();
        path
    }

    fn data_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(name).join("data")
    }

    /// The cluster's store, opened as a reader (a node of its own name).
    fn store(&self) -> ferrymail::storage::Store {
        let cfg = pg_testing::config(&self.url, &self.schema, "test-reader");
        let blobs = self.dir.path().join("blobs");
        ferrymail::storage::Store::open_postgres(&self.data_dir("reader"), Some(&blobs), &cfg)
            .expect("open the cluster's store")
            .0
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        pg_testing::drop_schema(&self.url, &self.schema);
    }
}

/// Domain example.com and bob@example.com (password `common::PASSWORD`), through the CLI.
fn add_bob(config: &Path) {
    let (ok, out) = cli(config, &["domain", "add", "example.com"]);
    assert!(ok, "{out}");
    let (ok, out) = cli(
        config,
        &[
            "account",
            "add",
            "bob@example.com",
            "--password",
            common::PASSWORD,
        ],
    );
    assert!(ok, "{out}");
}

/// Reads lines of `imap` until one satisfies `want`, for at most `within` (each read waits
/// at most the stream's timeout). Returns the lines read.
fn read_until(
    imap: &mut common::Imap,
    within: Duration,
    want: impl Fn(&str) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        let l = imap.read_line();
        if l.is_empty() {
            continue;
        }
        let done = want(&l);
        lines.push(l);
        if done {
            return lines;
        }
    }
    panic!("not seen within {within:?}; got {lines:?}");
}

/// One SMTP message to bob@example.com through `addr`.
fn deliver(addr: SocketAddr, subject: &str) {
    let mut c = common::Client::connect(addr);
    c.cmd("EHLO client.test");
    let r = c.deliver(
        "s@remote.test",
        &["bob@example.com"],
        &common::message(subject),
    );
    assert!(r.starts_with("250"), "{r}");
    c.cmd("QUIT");
}

/// POP3 on one node deletes what IMAP on the other shows; SMTP into one node shows up in the
/// other's IDLE.
#[test]
fn changes_through_one_node_reach_idle_sessions_on_the_other() {
    let Some(cluster) = Cluster::new("changes_through_one_node_reach_idle_sessions_on_the_other")
    else {
        return;
    };
    let a_cfg = cluster.node_config("node-a", "");
    let b_cfg = cluster.node_config("node-b", "");
    add_bob(&a_cfg);
    let a = Running::start(&a_cfg);
    let b = Running::start(&b_cfg);
    for n in 0..3 {
        deliver(a.addr("smtp"), &format!("first-{n}"));
    }
    let store = cluster.store();
    let inbox = store
        .folder_id("bob@example.com", "INBOX")
        .unwrap()
        .unwrap();
    assert!(
        common::fetch::wait_until(30, || store.message_count(inbox).unwrap() == 3),
        "the three messages were not delivered"
    );

    // IMAP IDLE on node B hears of a message delivered through node A.
    let mut on_b = common::Imap::login(b.addr("imap"), "bob@example.com");
    let r = on_b.cmd("SELECT INBOX");
    assert!(r.iter().any(|l| l == "* 3 EXISTS"), "{r:?}");
    let tag = on_b.bump();
    on_b.send_raw(format!("{tag} IDLE\r\n").as_bytes());
    assert!(on_b.read_line().starts_with('+'));
    deliver(a.addr("smtp"), "while-idle");
    read_until(&mut on_b, Duration::from_secs(60), |l| l == "* 4 EXISTS");
    on_b.send_raw(b"DONE\r\n");
    on_b.until_tagged(&tag);

    // POP3 on node B deletes the first message; IMAP IDLE on node A sees the EXPUNGE.
    let mut on_a = common::Imap::login(a.addr("imap"), "bob@example.com");
    let r = on_a.cmd("SELECT INBOX");
    assert!(r.iter().any(|l| l == "* 4 EXISTS"), "{r:?}");
    let tag = on_a.bump();
    on_a.send_raw(format!("{tag} IDLE\r\n").as_bytes());
    assert!(on_a.read_line().starts_with('+'));
    let pop = TcpStream::connect(b.addr("pop3")).unwrap();
    pop.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = pop.try_clone().unwrap();
    let mut r = BufReader::new(pop);
    let mut line = String::new();
    for cmd in [
        String::new(),
        "USER bob@example.com".to_string(),
        format!("PASS {}", common::PASSWORD),
        "DELE 1".to_string(),
        "QUIT".to_string(),
    ] {
        if !cmd.is_empty() {
            w.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
        }
        line.clear();
        r.read_line(&mut line).unwrap();
        assert!(line.starts_with("+OK"), "{cmd}: {line}");
    }
    read_until(&mut on_a, Duration::from_secs(60), |l| l == "* 1 EXPUNGE");
    on_a.send_raw(b"DONE\r\n");
    on_a.until_tagged(&tag);
    assert_eq!(store.message_count(inbox).unwrap(), 3);
}

/// Appends `n` messages to bob's INBOX through `addr`; returns the UIDs APPENDUID reported.
fn append_many(addr: SocketAddr, node: &str, n: usize) -> Vec<u32> {
    let mut imap = common::Imap::login(addr, "bob@example.com");
    let mut uids = Vec::new();
    for i in 0..n {
        let msg = format!("Subject: {node}-{i}\r\n\r\nappended through {node}\r\n");
        let tag = imap.bump();
        imap.send_raw(format!("{tag} APPEND INBOX {{{}+}}\r\n{msg}\r\n", msg.len()).as_bytes());
        let r = imap.until_tagged(&tag);
        let last = r.last().unwrap();
        assert!(common::ok(&r), "{r:?}");
        // "tN OK [APPENDUID validity uid] …"
        let uid = last
            .split("APPENDUID ")
            .nth(1)
            .and_then(|s| s.split([' ', ']']).nth(1))
            .and_then(|u| u.parse().ok())
            .unwrap_or_else(|| panic!("no APPENDUID in {last}"));
        uids.push(uid);
    }
    uids
}

#[test]
fn appends_from_both_nodes_get_unique_increasing_uids() {
    let Some(cluster) = Cluster::new("appends_from_both_nodes_get_unique_increasing_uids") else {
        return;
    };
    let a_cfg = cluster.node_config("node-a", "");
    let b_cfg = cluster.node_config("node-b", "");
    add_bob(&a_cfg);
    let a = Running::start(&a_cfg);
    let b = Running::start(&b_cfg);
    let (a_imap, b_imap) = (a.addr("imap"), b.addr("imap"));
    let on_a = std::thread::spawn(move || append_many(a_imap, "a", 150));
    let on_b = std::thread::spawn(move || append_many(b_imap, "b", 150));
    let (uids_a, uids_b) = (on_a.join().unwrap(), on_b.join().unwrap());
    for uids in [&uids_a, &uids_b] {
        assert!(
            uids.windows(2).all(|w| w[0] < w[1]),
            "one node's UIDs did not increase: {uids:?}"
        );
    }
    let mut all: Vec<u32> = uids_a.iter().chain(&uids_b).copied().collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 300, "a UID was given twice");

    let store = cluster.store();
    let inbox = store
        .folder_id("bob@example.com", "INBOX")
        .unwrap()
        .unwrap();
    let messages = store.list_messages(inbox).unwrap();
    assert_eq!(messages.len(), 300);
    assert_eq!(
        messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
        all,
        "the folder's UIDs are not the ones APPENDUID reported"
    );
    assert!(
        messages.windows(2).all(|w| w[0].modseq < w[1].modseq),
        "modseqs do not increase with UIDs"
    );
    let state = store.folder_state(inbox).unwrap();
    assert_eq!(state.exists, 300);
    assert_eq!(state.uidnext, all.last().unwrap() + 1);
}

/// Node A is killed while a slow MX takes its remote deliveries; node B, running beside it,
/// takes A's records once their leases expire and delivers every message. A message reaches
/// the MX twice only at the at-least-once edge (the MX had answered 250 and A had not gone on
/// on that connection when it died).
#[test]
fn a_node_killed_holding_leases_leaves_its_deliveries_to_the_other() {
    let Some(cluster) =
        Cluster::new("a_node_killed_holding_leases_leaves_its_deliveries_to_the_other")
    else {
        return;
    };
    let dns = common::dns::TestDns::start();
    dns.mx("remote.test", 10, "mx.remote.test");
    dns.a("mx.remote.test", std::net::Ipv4Addr::LOCALHOST);
    let sink = common::sink::Sink::start();
    sink.delay_data_reply(Duration::from_millis(300));
    let sections = format!(
        "[smtp]\nallow_plaintext_auth = true\n{}[delivery]\nport = {}\n\
         max_connections_per_domain = 2\nconnect_timeout = 5\ncommand_timeout = 10\n\
         retry_schedule = [\"1s\"]\n",
        dns.config(),
        sink.addr.port()
    );
    let a_cfg = cluster.node_config("node-a", &sections);
    let b_cfg = cluster.node_config("node-b", &sections);
    add_bob(&a_cfg);
    let seed = random_seed();
    let mut rng = seed;
    let b = Running::start(&b_cfg);
    let a = Running::start(&a_cfg);
    let mut submitted = Vec::new();
    for i in 0..20 {
        let id = format!("lease-{i}@example.com");
        submit_remote_pw(a.addr("submission"), &id);
        submitted.push(id);
    }
    std::thread::sleep(random_delay(&mut rng, 50, 500));
    a.sigkill();
    let accepted_at_kill = sink.accepted().len();
    let killed_at = Instant::now();
    let delivered = common::fetch::wait_until(120, || {
        let got: std::collections::BTreeSet<String> = sink
            .accepted()
            .iter()
            .filter_map(|r| message_id(&r.data))
            .collect();
        submitted.iter().all(|id| got.contains(id))
    });
    let accepted = sink.accepted();
    assert!(
        delivered,
        "node B did not deliver node A's messages (seed {seed}); the MX has {} of {}",
        accepted.len(),
        submitted.len()
    );
    let mut copies: std::collections::BTreeMap<String, Vec<&common::sink::Received>> =
        std::collections::BTreeMap::new();
    for r in &accepted {
        let id = message_id(&r.data).unwrap_or_else(|| panic!("no Message-ID in {:?}", r.data));
        copies.entry(id).or_default().push(r);
    }
    assert_eq!(
        copies.len(),
        submitted.len(),
        "unexpected messages at the MX"
    );
    let mut twice = 0;
    for (id, list) in &mut copies {
        list.sort_by_key(|r| r.replied_at);
        for pair in list.windows(2) {
            twice += 1;
            assert!(
                !pair[0].client_went_on,
                "{id} came again although its sender had gone on after the 250 (seed {seed})"
            );
            assert!(
                pair[0].replied_at < killed_at,
                "{id} came twice after the kill (seed {seed})"
            );
        }
    }
    assert!(
        accepted_at_kill < submitted.len(),
        "the kill came after every delivery (seed {seed}): nothing was left to take over"
    );
    println!(
        "{} submitted, {accepted_at_kill} at the MX when node A died, {} in the end, {twice} twice",
        submitted.len(),
        accepted.len()
    );
    drop(b);
}

/// `submit_remote` with the cluster's password.
fn submit_remote_pw(addr: SocketAddr, id: &str) {
    let mut c = common::Client::connect(addr);
    c.cmd("EHLO client.test");
    let r = c.auth_plain("bob@example.com", common::PASSWORD);
    assert!(r.starts_with("235"), "{r}");
    let message = format!(
        "From: <bob@example.com>\r\nTo: <carol@remote.test>\r\nSubject: {id}\r\n\
         Message-ID: <{id}>\r\n\r\nbody of {id}\r\n"
    );
    let r = c.deliver("bob@example.com", &["carol@remote.test"], &message);
    assert!(r.starts_with("250"), "{r}");
    c.cmd("QUIT");
}

/// SMTP load through both nodes; node A is killed at a random moment and started again.
/// Every acknowledged message is in the mailbox exactly once.
#[test]
fn a_node_killed_under_smtp_load_loses_no_acknowledged_message() {
    let Some(cluster) = Cluster::new("a_node_killed_under_smtp_load_loses_no_acknowledged_message")
    else {
        return;
    };
    let a_cfg = cluster.node_config("node-a", "");
    let b_cfg = cluster.node_config("node-b", "");
    add_bob(&a_cfg);
    let seed = random_seed();
    let mut rng = seed;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let b = Running::start(&b_cfg);
    for round in 0..3 {
        let a = Running::start(&a_cfg);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let senders: Vec<_> = [a.addr("smtp"), a.addr("smtp"), b.addr("smtp")]
            .into_iter()
            .enumerate()
            .map(|(t, addr)| {
                let (acked, stop) = (acked.clone(), stop.clone());
                let first = (round * 3 + t) * 100_000;
                std::thread::spawn(move || send_until_killed(addr, first, acked, stop))
            })
            .collect();
        std::thread::sleep(random_delay(&mut rng, 200, 800));
        a.sigkill();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for s in senders {
            s.join().unwrap();
        }
    }
    // Node A runs again; both drain their queues.
    let a = Running::start(&a_cfg);
    let store = cluster.store();
    let drained = common::fetch::wait_until(90, || {
        [QueueName::Inbound, QueueName::Local]
            .into_iter()
            .all(|q| store.queue_depth(q).unwrap() == 0)
    });
    assert!(drained, "the queues did not drain (seed {seed})");
    let inbox = common::inbox_of(&store, "bob@example.com");
    assert_each_acknowledged_once(&acked.lock().unwrap(), &inbox, seed);
    drop((a, b));
}
