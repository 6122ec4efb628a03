//! MultiPOP and DomainPOP against a second Ferrymail instance on loopback (its IMAP
//! listener is the "outside" mailbox): exactly once across a fetcher panic, delete mode,
//! the DomainPOP recipient rule with duplicate suppression, unknown recipients, the loop
//! stamp, and errors in the status.

mod common;

use std::collections::BTreeSet;

use common::fetch::{
    add_source, fill, header, letter, message_ids, source_id, status, wait_first_run, wait_until,
};
use common::{TestServer, PASSWORD};
use ferrymail::storage::QueueName;

const BOB: &str = "bob@example.com";

fn outside_count(outside: &TestServer) -> usize {
    outside.inbox(BOB).len()
}

#[test]
fn imap_500_messages_leave_on_server_exactly_once_across_a_fetcher_panic() {
    bulk_exactly_once_across_a_fetcher_panic("imap");
}

/// 500 messages fetched over `protocol`, left on the server; the fetcher panics mid-run.
fn bulk_exactly_once_across_a_fetcher_panic(protocol: &str) {
    let outside = TestServer::start();
    let letters: Vec<String> = (0..500)
        .map(|n| letter("bulk", n, "To: bob@example.com\r\n"))
        .collect();
    fill(&outside, BOB, &letters);
    let home = TestServer::start();
    let ctx = home.handle().ctx.clone();

    let id = add_source(&home, &outside, protocol, "");
    // Mid-run, the fetcher panics between fetching a message and taking it in.
    assert!(wait_until(120, || home.inbox(BOB).len() >= 100));
    ctx.faults.arm("fetch.accept", 1);
    assert!(
        wait_until(180, || home.inbox(BOB).len() >= 500),
        "only {} arrived",
        home.inbox(BOB).len()
    );
    assert_eq!(ctx.registry.restarts(&format!("fetch/{id}")), 1);

    // A further run finds nothing new; mail was left on the server.
    wait_until(30, || !status(&home, id).contains("(running now)"));
    let (ok, out) = home.console(&format!("source run {id}"));
    assert!(ok, "{out}");
    assert_eq!(
        out,
        format!("source {id}: 500 on the server, 0 fetched, 0 deleted")
    );
    let ids = message_ids(&home.store(), BOB);
    assert_eq!(ids.len(), 500, "exactly once");
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        500,
        "no duplicates"
    );
    assert_eq!(outside_count(&outside), 500);

    // Fetched mail carries the trace and the loop stamp; the original is intact after them.
    let one = &home.inbox(BOB)[0];
    assert_eq!(
        header(one, "X-Ferrymail-Fetched").as_deref(),
        Some("mx.example.com")
    );
    assert!(String::from_utf8_lossy(one).contains(&format!("with {} id", protocol.to_uppercase())));
    assert!(String::from_utf8_lossy(one).ends_with("\r\n.dot line\r\n"));
    let st = status(&home, id);
    assert!(st.contains("last error: none"), "{st}");
}

#[test]
fn imap_delete_mode_removes_remote_mail_only_after_the_local_commit() {
    delete_mode_removes_remote_mail_only_after_the_local_commit("imap");
}

fn delete_mode_removes_remote_mail_only_after_the_local_commit(protocol: &str) {
    let outside = TestServer::start();
    let letters: Vec<String> = (0..6)
        .map(|n| letter("del", n, "To: bob@example.com\r\n"))
        .collect();
    fill(&outside, BOB, &letters);
    let home = TestServer::start();
    let ctx = home.handle().ctx.clone();
    // The first message is taken in, then the fetcher fails before deleting it; the
    // restarted run must delete it without taking it in again.
    ctx.faults.arm("fetch.delete", 1);
    let id = add_source(&home, &outside, protocol, "--delete");
    assert!(wait_until(60, || outside_count(&outside) == 0
        && home.inbox(BOB).len() >= 6));
    assert!(wait_until(30, || !status(&home, id).contains("(running now)")));
    assert_eq!(ctx.registry.restarts(&format!("fetch/{id}")), 1);
    let ids = message_ids(&home.store(), BOB);
    assert_eq!(ids.len(), 6, "{ids:?}");
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 6);
    let st = status(&home, id);
    assert!(st.contains("deleted on the server: 6"), "{st}");

    // New mail arriving later is fetched and deleted by the next run.
    fill(
        &outside,
        BOB,
        &[letter("del", 99, "To: bob@example.com\r\n")],
    );
    let (ok, out) = home.console(&format!("source run {id}"));
    assert!(ok, "{out}");
    assert_eq!(
        out,
        format!("source {id}: 1 on the server, 1 fetched, 1 deleted")
    );
    assert_eq!(outside_count(&outside), 0);
    assert_eq!(home.wait_inbox(BOB, 7).len(), 7);
}

#[test]
fn imap_domainpop_delivers_each_recipient_once_routes_unknown_and_stops_loops() {
    domainpop_delivers_each_recipient_once_routes_unknown_and_stops_loops("imap");
}

fn domainpop_delivers_each_recipient_once_routes_unknown_and_stops_loops(protocol: &str) {
    let outside = TestServer::start();
    let home = TestServer::start();
    let store = home.store();
    for a in [
        "frank@example.com",
        "henry@example.com",
        "postmaster@example.com",
    ] {
        store.add_account(a, PASSWORD, false).unwrap();
    }
    store.commit().unwrap();
    let seed = letter("seed", 1, "To: Bob <bob@example.com>\r\nCc: frank@example.com, Henry <henry@example.com>, joe@elsewhere.net\r\n");
    let mut letters = vec![seed.clone(), seed.clone(), seed];
    // An unknown local address, one with no local address at all, and one already fetched
    // by this host (its stamp): a loop.
    letters.push(letter("unknown", 2, "To: nobody@example.com\r\n"));
    letters.push(letter("foreign", 3, "To: someone@elsewhere.net\r\n"));
    letters.push(letter(
        "loop",
        4,
        "X-Ferrymail-Fetched: mx.example.com\r\nTo: bob@example.com\r\n",
    ));
    // An envelope header beats To/Cc: only alice@ (team@ would be the alias).
    letters.push(letter(
        "envelope",
        5,
        "X-Original-To: alice@example.com\r\nTo: bob@example.com\r\n",
    ));
    fill(&outside, BOB, &letters);

    let (ok, out) = home.console(&format!(
        "domainpop set example.com --host 127.0.0.1 --port {} --protocol {protocol} --tls none \
         --user {BOB} --password '{PASSWORD}' --interval 3600 --raw-copy domainpop-raw",
        outside.addr(protocol).port()
    ));
    assert!(ok, "{out}");
    let id = source_id(&out);
    let st = wait_first_run(&home, id);
    assert!(st.contains("fetched: 7 last run"), "{st}");

    let seed_id = "<1-seed@example.net>".to_string();
    for who in [BOB, "frank@example.com", "henry@example.com"] {
        assert!(wait_until(20, || !home.inbox(who).is_empty()));
        assert_eq!(message_ids(&store, who), vec![seed_id.clone()], "{who}");
    }
    // Unknown and foreign letters go to the default target, postmaster@example.com.
    assert!(wait_until(20, || home
        .inbox("postmaster@example.com")
        .len()
        >= 2));
    assert_eq!(
        message_ids(&store, "postmaster@example.com"),
        vec!["<2-unknown@example.net>", "<3-foreign@example.net>"]
    );
    // Delivery is asynchronous: the run's count says fetched, not yet in the folder.
    assert!(wait_until(20, || !home
        .inbox("alice@example.com")
        .is_empty()));
    assert_eq!(
        message_ids(&store, "alice@example.com"),
        vec!["<5-envelope@example.net>"]
    );
    // The loop went to the bad queue, with the reason.
    assert!(wait_until(20, || !store
        .queue_list(QueueName::Bad)
        .unwrap()
        .is_empty()));
    let bad = store.queue_list(QueueName::Bad).unwrap();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(
        bad[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("mail loop"),
        "{bad:?}"
    );
    // A raw copy of each of the seven fetched messages.
    let raw = std::fs::read_dir(home.data_dir().join("domainpop-raw"))
        .unwrap()
        .count();
    assert_eq!(raw, 7);

    // Nothing is fetched twice; `domainpop show` reports it.
    let (ok, out) = home.console("domainpop run example.com");
    assert!(ok, "{out}");
    assert_eq!(
        out,
        "DomainPOP for example.com: 7 on the server, 0 fetched, 0 deleted"
    );
    let (ok, out) = home.console("domainpop show example.com");
    assert!(ok && out.contains("fetched: 0 last run, 7 in all"), "{out}");
}

#[test]
fn domainpop_without_duplicate_suppression_and_unknown_to_the_bad_queue() {
    let outside = TestServer::start();
    let home = TestServer::start();
    let seed = letter(
        "seed",
        1,
        "To: bob@example.com\r\nCc: nobody@example.com\r\n",
    );
    fill(&outside, BOB, &[seed.clone(), seed]);
    let (ok, out) = home.console(&format!(
        "domainpop set example.com --host 127.0.0.1 --port {} --protocol imap --tls none \
         --user {BOB} --password '{PASSWORD}' --interval 3600 --dedup off --unknown bad",
        outside.addr("imap").port()
    ));
    assert!(ok, "{out}");
    wait_first_run(&home, source_id(&out));
    assert!(wait_until(20, || home.inbox(BOB).len() >= 2));
    assert_eq!(home.inbox(BOB).len(), 2, "both copies without suppression");
    let bad = home.store().queue_list(QueueName::Bad).unwrap();
    assert_eq!(bad.len(), 2);
    assert!(bad
        .iter()
        .all(|r| r.recipients[0].address == "nobody@example.com"));
}

#[test]
fn bad_password_unreachable_host_and_tls_failures_show_in_status() {
    let outside = TestServer::start();
    let home = TestServer::start();
    let imap = outside.addr("imap").port();
    let add = |args: String| {
        let (ok, out) = home.console(&format!(
            "source add {BOB} --protocol imap --interval 3600 {args}"
        ));
        assert!(ok, "{out}");
        source_id(&out)
    };
    let wrong = add(format!(
        "--host 127.0.0.1 --port {imap} --tls none --user {BOB} --password 'not it'"
    ));
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let unreachable = add(format!(
        "--host 127.0.0.1 --port {closed} --tls none --user u --password p"
    ));
    // The outside server's certificate is self-signed: verification fails ...
    let imaps = outside.addr("imaps").port();
    let verified = add(format!(
        "--host 127.0.0.1 --port {imaps} --tls implicit --user {BOB} --password '{PASSWORD}'"
    ));
    // ... and without verification the same server works, over implicit TLS and STARTTLS.
    let implicit = add(format!(
        "--host 127.0.0.1 --port {imaps} --tls implicit --no-verify --user {BOB} --password '{PASSWORD}'"
    ));
    let starttls = add(format!(
        "--host localhost --port {imap} --tls starttls --no-verify --user {BOB} --password '{PASSWORD}'"
    ));

    let st = wait_first_run(&home, wrong);
    assert!(st.contains("last error: login refused"), "{st}");
    assert!(st.contains("(1 failed run(s) in a row)"), "{st}");
    assert!(!st.contains("not it"), "{st}");
    let st = wait_first_run(&home, unreachable);
    assert!(st.contains("last error: network error"), "{st}");
    let st = wait_first_run(&home, verified);
    assert!(st.contains("last error: TLS failed"), "{st}");
    for ok_id in [implicit, starttls] {
        let st = wait_first_run(&home, ok_id);
        assert!(st.contains("last error: none"), "{st}");
    }
    // Run now: the error comes back at once, and the failures add up.
    let (ok, out) = home.console(&format!("source run {wrong}"));
    assert!(!ok && out.contains("login refused"), "{out}");
    assert!(status(&home, wrong).contains("(2 failed run(s) in a row)"));
    let (ok, out) = home.console("status");
    assert!(ok && out.contains("fetch: 5 source(s), 3 failing"), "{out}");
    let (ok, out) = home.console("source run 99");
    assert!(!ok && out.contains("no source 99"), "{out}");

    // Deleting a source stops its fetcher and forgets it; so does deleting its account.
    let (ok, out) = home.console(&format!("source del {wrong}"));
    assert!(ok, "{out}");
    let (ok, _) = home.console(&format!("source status {wrong}"));
    assert!(!ok);
    let (ok, out) = home.console(&format!(
        "source add alice@example.com --host 127.0.0.1 --port {closed} --tls none --user u --password p"
    ));
    assert!(ok, "{out}");
    let alice = source_id(&out);
    let (ok, out) = home.console("account del alice@example.com");
    assert!(ok, "{out}");
    let ctx = home.handle().ctx.clone();
    let gone = |id: u64| {
        let (_, actors) = home.console("actors");
        !actors.contains(&format!("fetch/{id} "))
    };
    assert!(wait_until(10, || gone(wrong) && gone(alice)));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(gone(alice), "a deleted source's fetcher must not come back");
    assert_eq!(ctx.registry.restarts(&format!("fetch/{alice}")), 0);
    // The password is stored sealed: not in the database in clear.
    let db = home.data_dir().join("db");
    for entry in walk(&db) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "{entry:?}"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn failed_runs_back_off_exponentially_on_the_server_clock() {
    let outside = TestServer::start();
    let clock = ferrymail::clock::ManualClock::new(1_795_305_600);
    let home = TestServer::start_opts("", Some(clock.clone()));
    let (ok, out) = home.console(&format!(
        "source add {BOB} --host 127.0.0.1 --port {} --protocol imap --tls none \
         --user {BOB} --password wrong --interval 60",
        outside.addr("imap").port()
    ));
    assert!(ok, "{out}");
    let id = source_id(&out);
    let home = &home;
    let failures = |n: u32| {
        let want = format!("({n} failed run(s) in a row)");
        move || status(home, id).contains(&want)
    };
    assert!(wait_until(20, failures(1)));
    assert!(status(home, id).contains("next run: 2026-11-22T00:01:00Z"));
    // Not due yet: nothing happens however long we wait in real time.
    clock.advance(59);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(failures(1)());
    // Due: the second failure waits twice the interval, the third four times.
    clock.advance(1);
    assert!(wait_until(20, failures(2)));
    assert!(
        status(home, id).contains("next run: 2026-11-22T00:03:00Z"),
        "{}",
        status(home, id)
    );
    clock.advance(120);
    assert!(wait_until(20, failures(3)));
    assert!(
        status(home, id).contains("next run: 2026-11-22T00:07:00Z"),
        "{}",
        status(home, id)
    );
}

// ---- the same over POP3, against the second server's POP3 listener ---------------------

#[test]
fn pop3_500_messages_leave_on_server_exactly_once_across_a_fetcher_panic() {
    bulk_exactly_once_across_a_fetcher_panic("pop3");
}

#[test]
fn pop3_delete_mode_removes_remote_mail_only_after_the_local_commit() {
    delete_mode_removes_remote_mail_only_after_the_local_commit("pop3");
}

#[test]
fn pop3_domainpop_delivers_each_recipient_once_routes_unknown_and_stops_loops() {
    domainpop_delivers_each_recipient_once_routes_unknown_and_stops_loops("pop3");
}

/// A raw POP3 session on the outside server, logged in as bob@ (it holds the maildrop).
struct Holder {
    stream: std::net::TcpStream,
    reader: std::io::BufReader<std::net::TcpStream>,
}

impl Holder {
    fn login(addr: std::net::SocketAddr) -> Holder {
        let stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let reader = std::io::BufReader::new(stream.try_clone().unwrap());
        let mut h = Holder { stream, reader };
        assert!(h.line().starts_with("+OK"));
        assert!(h.cmd(&format!("USER {BOB}")).starts_with("+OK"));
        assert!(h.cmd(&format!("PASS {PASSWORD}")).starts_with("+OK"));
        h
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        std::io::BufRead::read_line(&mut self.reader, &mut l).unwrap();
        l
    }

    fn cmd(&mut self, c: &str) -> String {
        std::io::Write::write_all(&mut self.stream, format!("{c}\r\n").as_bytes()).unwrap();
        self.line()
    }
}

#[test]
fn pop3_tls_modes_login_errors_and_the_in_use_lock() {
    let outside = TestServer::start();
    fill(
        &outside,
        BOB,
        &[letter("tls", 1, "To: bob@example.com\r\n")],
    );
    let home = TestServer::start();
    let add = |args: String| {
        let (ok, out) = home.console(&format!(
            "source add {BOB} --protocol pop3 --interval 3600 --user {BOB} {args}"
        ));
        assert!(ok, "{out}");
        source_id(&out)
    };
    let pop3 = outside.addr("pop3").port();
    let pop3s = outside.addr("pop3s").port();
    let stls = add(format!(
        "--host localhost --port {pop3} --tls starttls --no-verify --password '{PASSWORD}'"
    ));
    let st = wait_first_run(&home, stls);
    assert!(st.contains("last error: none"), "{st}");
    let implicit = add(format!(
        "--host 127.0.0.1 --port {pop3s} --tls implicit --no-verify --password '{PASSWORD}'"
    ));
    let st = wait_first_run(&home, implicit);
    assert!(st.contains("last error: none"), "{st}");
    let verified = add(format!(
        "--host 127.0.0.1 --port {pop3s} --tls implicit --password '{PASSWORD}'"
    ));
    let st = wait_first_run(&home, verified);
    assert!(st.contains("last error: TLS failed"), "{st}");
    let wrong = add(format!(
        "--host 127.0.0.1 --port {pop3} --tls none --password nope"
    ));
    let st = wait_first_run(&home, wrong);
    assert!(st.contains("last error: login refused"), "{st}");
    assert!(!st.contains("nope"), "{st}");
    // Two separate sources of one mailbox: each took the message in once.
    assert!(wait_until(20, || home.inbox(BOB).len() >= 2));

    // While another session holds the maildrop, a run fails with the server's reason
    // (after trying again within the run); once it has quit, the run works.
    let mut holder = Holder::login(outside.addr("pop3"));
    let (ok, out) = home.console(&format!("source run {stls}"));
    assert!(!ok && out.contains("[IN-USE]"), "{out}");
    assert!(holder.cmd("QUIT").starts_with("+OK"));
    let (ok, out) = home.console(&format!("source run {stls}"));
    assert!(ok, "{out}");
    assert_eq!(
        out,
        format!("source {stls}: 1 on the server, 0 fetched, 0 deleted")
    );
}
