//! End-to-end runs against a real Ferrymail server started in this process
//! on 127.0.0.1, port 0.

use std::time::Duration;

use super::report::Op;
use super::*;
use crate::test_server::{self, accounts, TestServer, PASSWORD, USERS};

/// A server with IMAP on plain and implicit TLS, plaintext LOGIN allowed.
fn start() -> TestServer {
    TestServer::start(
        "[listeners]\nimap = \"127.0.0.1:0\"\nimaps = \"127.0.0.1:0\"\n\
         [imap]\nallow_plaintext_login = true\n",
    )
}

fn options(server: &TestServer) -> ImapBenchOptions {
    ImapBenchOptions {
        target: server.addr("imap"),
        accounts: accounts(),
        clients: 2,
        seconds: 2,
        size: 2048,
        timeout: Duration::from_secs(10),
        server_pids: vec![std::process::id()],
        ..ImapBenchOptions::default()
    }
}

fn run_bounded(opts: ImapBenchOptions) -> ImapBenchReport {
    test_server::run_bounded(imap_load(opts))
}

#[test]
fn mixed_load_against_ferrymail_has_no_errors() {
    let server = start();
    let mut opts = options(&server);
    opts.prepare = 30;
    opts.probe = 2;
    let report = run_bounded(opts);
    let text = report.render();
    let prepare = report.prepare.as_ref().expect("prepared");
    assert_eq!(prepare.messages_appended, 60, "{text}");
    assert_eq!(prepare.errors, 0, "{text}");
    assert!(prepare.multiappend, "{text}");
    assert_eq!(report.probe.len(), 4, "{text}");
    for p in &report.probe {
        assert_eq!((p.ok, &p.first_error), (2, &None), "{text}");
    }
    // bob's INBOX holds 30 messages, half of them \Seen.
    assert_eq!(report.probe[1].responses, 30, "{text}");
    assert_eq!(report.probe[2].responses, 15, "{text}");
    assert_eq!(report.probe[3].responses, 0, "{text}");
    assert!(report.ops.ok() > 20, "{text}");
    assert_eq!(report.ops.errors(), 0, "{text}");
    assert_eq!(report.connection_errors, 0, "{text}");
    assert!(report.errors.is_empty(), "{text}");
    for op in [
        Op::Login,
        Op::Select,
        Op::FetchHeaders,
        Op::FetchBody,
        Op::Store,
        Op::Noop,
    ] {
        assert!(
            report.ops.0.get(&op).is_some_and(|s| s.ok > 0),
            "{op:?} never ran: {text}"
        );
    }
    assert!(report.server_cpu.is_some_and(|c| c.total > Duration::ZERO));
    assert!(report.wall >= Duration::from_millis(1500), "{text}");
    let json = text.lines().last().and_then(|l| l.strip_prefix("RESULT "));
    let json: serde_json::Value = serde_json::from_str(json.expect("RESULT")).expect("json");
    assert!(json["operations_per_s"].as_f64().is_some_and(|v| v > 0.0));
}

/// `--fetch-all`: every prepared message comes back in each round, all its bytes counted,
/// with the server's memory and CPU read.
#[test]
fn fetch_all_reads_the_whole_mailbox_each_round() {
    let server = start();
    let mut opts = options(&server);
    opts.clients = 0;
    opts.accounts.truncate(1);
    opts.prepare = 20;
    opts.size = 50_000;
    opts.fetch_all = 3;
    let report = run_bounded(opts);
    let text = report.render();
    let f = report.fetch_all.as_ref().expect("fetched");
    assert_eq!((f.rounds_ok, &f.first_error), (3, &None), "{text}");
    assert_eq!(f.messages, 20, "{text}");
    assert!(f.bytes >= 3 * 20 * 50_000, "{text}");
    assert!(f.mb_per_s > 0.0, "{text}");
    assert!(
        f.server_rss_before_kb.is_some() && f.server_rss_peak_kb.is_some(),
        "{text}"
    );
    assert!(f.server_cpu_ms_per_mb.is_some(), "{text}");
    assert!(text.contains("fetch all server rss"), "{text}");
}

#[test]
fn idle_clients_hold_and_close_cleanly() {
    let server = start();
    let mut opts = options(&server);
    opts.idle_clients = 6;
    opts.clients = 1;
    opts.seconds = 1;
    let report = run_bounded(opts);
    let text = report.render();
    let idle = report.idle.as_ref().expect("idle report");
    assert_eq!((idle.idling, idle.failed), (6, 0), "{text}");
    assert_eq!(idle.closed_cleanly, 6, "{text}");
    assert!(idle.errors.is_empty(), "{text}");
    assert!(idle.server_rss_idling_kb.is_some_and(|kb| kb > 0), "{text}");
    assert!(idle.kb_per_connection.is_some(), "{text}");
    assert_eq!(report.ops.errors(), 0, "{text}");
    assert!(text.contains("KB per idle connection:"), "{text}");
}

#[test]
fn wrong_password_is_counted_not_fatal() {
    let server = start();
    let mut opts = options(&server);
    opts.accounts[0].pass = "wrong".into();
    opts.accounts.truncate(1);
    opts.clients = 1;
    opts.seconds = 1;
    let report = run_bounded(opts);
    let login = report.ops.0.get(&Op::Login).expect("LOGIN tried");
    assert_eq!(login.ok, 0);
    assert!(login.no >= 1, "{}", report.render());
    assert!(login.no <= 5, "bounded retries: {}", report.render());
}

#[test]
fn cli_entry_runs_imap() {
    let server = start();
    let dir = tempfile::tempdir().expect("tempdir");
    let users = dir.path().join("users");
    std::fs::write(&users, format!("{}:{PASSWORD}\n", USERS[1])).expect("write");
    let args: Vec<String> = format!(
        "imap --target {} --users {} --clients 1 --seconds 1 --prepare 5",
        server.addr("imap"),
        users.display()
    )
    .split_whitespace()
    .map(String::from)
    .collect();
    let text = crate::run(&args).expect("report");
    assert!(text.contains("operations/s:"), "{text}");
    let json = text.lines().last().and_then(|l| l.strip_prefix("RESULT "));
    let json: serde_json::Value = serde_json::from_str(json.expect("RESULT")).expect("json");
    assert_eq!(json["errors_no_bad"], 0, "{text}");
    assert_eq!(json["prepare"]["messages_appended"], 5, "{text}");
}

#[test]
fn stress_mix_over_tls_runs_every_imaptest_state() {
    let server = start();
    let mut opts = options(&server);
    opts.target = server.addr("imaps");
    opts.tls = crate::options::TlsMode::Implicit;
    opts.mix = Mix::Stress;
    opts.clients = 4;
    let report = run_bounded(opts);
    let text = report.render();
    assert_eq!(report.mix, "stress");
    assert_eq!(report.connection_errors, 0, "{text}");
    assert!(report.errors.is_empty(), "{text}");
    assert_eq!(report.ops.errors(), 0, "{text}");
    // Four clients on two accounts: each logs in once cold, then returns.
    let first = report.ops.0.get(&Op::Login).map_or(0, |s| s.ok);
    assert_eq!(first, 4, "{text}");
    for op in [
        Op::LoginReturning,
        Op::Select,
        Op::FetchRandom,
        Op::FetchPart,
        Op::Expunge,
        Op::Append,
        Op::Logout,
    ] {
        assert!(
            report.ops.0.get(&op).is_some_and(|s| s.ok > 0),
            "{op:?} never ran: {text}"
        );
    }
    assert!(text.contains("LOGIN (returning client): p50 "), "{text}");
    assert!(report.server_rss_end_kb.is_some_and(|kb| kb > 0), "{text}");
    assert!(report.server_rss_peak_kb.is_some_and(|kb| kb > 0), "{text}");
    let json = text.lines().last().and_then(|l| l.strip_prefix("RESULT "));
    let json: serde_json::Value = serde_json::from_str(json.expect("RESULT")).expect("json");
    assert_eq!(json["mix"], "stress");
    assert!(json["protocol_errors"].is_u64(), "{text}");
}
