//! Runs against a real Ferrymail server started in this process on 127.0.0.1, port 0,
//! plain, with STLS and over implicit TLS.

use std::time::Duration;

use super::*;
use crate::test_server::{self, accounts, TestServer, USERS};
use ferrymail::storage::{Flags, NewMessage};

/// Messages in each INBOX.
const MESSAGES: usize = 3;

fn message(i: usize) -> Vec<u8> {
    format!("Subject: bench {i}\r\n\r\n.dot line\r\nbody {i}\r\n").into_bytes()
}

/// A server with POP3 on plain and implicit TLS, plaintext USER/PASS allowed, and
/// [`MESSAGES`] messages in each account's INBOX.
fn start() -> TestServer {
    let server = TestServer::start(
        "[listeners]\npop3 = \"127.0.0.1:0\"\npop3s = \"127.0.0.1:0\"\n\
         [pop3]\nallow_plaintext_login = true\n",
    );
    let ctx = server.handle().ctx.clone();
    let (store, folders) = (&ctx.store, ctx.writers_for_tests().0);
    for user in USERS {
        let inbox = store
            .folder_id(user, "INBOX")
            .expect("read")
            .expect("INBOX");
        for i in 0..MESSAGES {
            let m = message(i);
            let blob = store.blobs().put(&m).expect("blob");
            let new = NewMessage {
                blob,
                size: m.len() as u64,
                flags: Flags::default(),
                internal_date: 0,
            };
            folders.append_message(inbox, new, None).expect("append");
        }
    }
    store.commit().expect("commit");
    server
}

fn options(target: String, tls: TlsMode) -> Pop3BenchOptions {
    Pop3BenchOptions {
        target,
        accounts: accounts(),
        clients: 2,
        sessions: 3,
        messages: 2,
        tls,
        timeout: Duration::from_secs(10),
        server_pids: vec![std::process::id()],
        ..Pop3BenchOptions::default()
    }
}

fn run_bounded(opts: Pop3BenchOptions) -> Pop3BenchReport {
    test_server::run_bounded(pop3_load(opts))
}

#[test]
fn sessions_retrieve_and_count_over_plain_stls_and_tls() {
    let server = start();
    let octets_per_session: u64 = (0..2).map(|i| message(i).len() as u64).sum();
    for (service, tls) in [
        ("pop3", TlsMode::None),
        ("pop3", TlsMode::StartTls),
        ("pop3s", TlsMode::Implicit),
    ] {
        let r = run_bounded(options(server.addr(service), tls));
        let c = &r.counts;
        assert_eq!(c.sessions_ok, 6, "{tls:?}: {}", r.render());
        assert_eq!(c.retrieved(), 12);
        assert_eq!(c.octets, 6 * octets_per_session);
        assert_eq!(c.steps[&Op::Login].ok, 6);
        assert_eq!(c.steps[&Op::List].latencies_us.len(), 6);
        assert!(r.server_cpu.is_some());
        let text = r.render();
        assert!(
            text.contains("sessions:               6 ok, 0 failed"),
            "{text}"
        );
        let json = text.lines().last().and_then(|l| l.strip_prefix("RESULT "));
        let v: serde_json::Value = serde_json::from_str(json.expect("RESULT")).expect("json");
        assert_eq!(v["messages_retrieved"], 12);
        assert_eq!(v["tls"], tls.as_str());
    }
    // Nothing was deleted: the mailboxes are as they were.
    let store = server.handle().ctx.store.clone();
    let inbox = store.folder_id(USERS[0], "INBOX").unwrap().unwrap();
    assert_eq!(store.list_messages(inbox).unwrap().len(), MESSAGES);
}

#[test]
fn a_wrong_password_and_a_locked_maildrop_are_counted() {
    let server = start();
    let mut o = options(server.addr("pop3"), TlsMode::None);
    o.accounts[0].pass = "wrong".into();
    o.accounts.truncate(1);
    o.clients = 1;
    let r = run_bounded(o);
    assert_eq!(r.counts.sessions_failed, 3);
    assert_eq!(r.counts.steps[&Op::Login].err, 3);
    assert!(r.render().contains("-ERR [AUTH]"), "{}", r.render());

    // Eight clients on one account: every session either completes or meets the lock.
    let mut o = options(server.addr("pop3"), TlsMode::None);
    o.accounts.truncate(1);
    o.clients = 8;
    o.sessions = 2;
    let r = run_bounded(o);
    let c = &r.counts;
    assert_eq!(c.sessions_ok + c.in_use, 16, "{}", r.render());
    assert!(c.sessions_ok >= 1);
}

#[test]
fn options_parse() {
    let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    let Parsed::Run(o) = parse_pop3_args(&args(
        "--target 127.0.0.1:110 --user u --password p --clients 3 --sessions 5 --messages 7 --starttls --server-pid 42",
    ))
    .expect("parses") else {
        panic!("help");
    };
    assert_eq!((o.clients, o.sessions, o.messages), (3, 5, 7));
    assert_eq!(o.tls, TlsMode::StartTls);
    assert_eq!(o.server_pids, vec![42]);
    assert_eq!(parse_pop3_args(&args("--help")), Ok(Parsed::Help));
    for (bad, says) in [
        ("--user u --password p", "--target"),
        ("--target a:1", "--users FILE"),
        ("--target a:1 --user u", "go together"),
        (
            "--target a:1 --user u --password p --clients 0",
            "--clients",
        ),
        (
            "--target a:1 --user u --password p --tls --starttls",
            "exclude",
        ),
        (
            "--target a:1 --user u --password p --frob 1",
            "unknown option",
        ),
    ] {
        let e = parse_pop3_args(&args(bad)).expect_err(bad);
        assert!(e.contains(says), "{bad}: {e}");
    }
}
