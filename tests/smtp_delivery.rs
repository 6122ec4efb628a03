//! End to end over real sockets: SMTP in, queues, local delivery into INBOX.

mod common;

use std::time::Duration;

use common::{message, without_trace, Client, TestServer};
use ferrymail::storage::QueueName;

#[test]
fn delivered_message_is_byte_identical_apart_from_trace_headers() {
    let server = TestServer::start();
    let mut c = Client::connect(server.addr("smtp"));
    assert!(c.greeting.starts_with("220 "), "{}", c.greeting);
    let msg = message("identical");
    let r = c.deliver("sender@example.net", &["bob@example.com"], &msg);
    assert!(r.starts_with("250 2.0.0"), "{r}");
    let inbox = server.wait_inbox("bob@example.com", 1);
    assert_eq!(inbox.len(), 1);
    let stored = &inbox[0];
    assert!(
        stored.starts_with(b"Received: from client.example.net"),
        "{}",
        String::from_utf8_lossy(stored)
    );
    assert_eq!(without_trace(stored), msg.as_bytes());
    assert_eq!(server.queue_depth(QueueName::Inbound), 0);
    assert_eq!(server.queue_depth(QueueName::Local), 0);
}

#[test]
fn aliases_and_plus_addressing_reach_accounts_once_each() {
    let server = TestServer::start();
    let mut c = Client::connect(server.addr("smtp"));
    // team@ -> bob@, alice@; bob+news@ -> bob@: bob must get one copy, not two.
    let r = c.deliver(
        "sender@example.net",
        &["team@example.com", "bob+news@example.com"],
        &message("alias"),
    );
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(server.wait_inbox("alice@example.com", 1).len(), 1);
    assert_eq!(server.wait_inbox("bob@example.com", 1).len(), 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        server.inbox("bob@example.com").len(),
        1,
        "one copy per account"
    );
}

#[test]
fn never_an_open_relay_but_authenticated_users_relay() {
    let server = TestServer::start_with("allow_plaintext_auth = true");
    let mut c = Client::connect(server.addr("smtp"));
    c.cmd("EHLO client.example.net");
    c.cmd("MAIL FROM:<spammer@example.net>");
    let r = c.cmd("RCPT TO:<victim@elsewhere.example>");
    assert!(r.starts_with("554 5.7.1"), "{r}");
    let r = c.cmd("RCPT TO:<nobody@example.com>");
    assert!(r.starts_with("550 5.1.1"), "{r}");

    // On submission an authenticated user may send anywhere: it goes to the remote queue,
    // and (the test resolver answering nothing) on to the deferred queue.
    let mut s = Client::connect(server.addr("submission"));
    s.cmd("EHLO client.example.net");
    let r = s.cmd("MAIL FROM:<bob@example.com>");
    assert!(r.starts_with("530 5.7.0"), "auth required: {r}");
    let token = base64_plain("bob@example.com", common::PASSWORD);
    let r = s.cmd(&format!("AUTH PLAIN {token}"));
    assert!(r.starts_with("235"), "{r}");
    let r = s.cmd("MAIL FROM:<bob@example.com>");
    assert!(r.starts_with("250"), "{r}");
    let r = s.cmd("RCPT TO:<friend@elsewhere.example>");
    assert!(r.starts_with("250"), "{r}");
    // The From: must be one bob may use (sender authorization), like the envelope.
    let r = s.data(&message("outbound").replace("sender@example.net", "bob@example.com"));
    assert!(r.starts_with("250"), "{r}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.queue_depth(QueueName::Deferred) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.queue_depth(QueueName::Deferred), 1);
    let rec = &server.store().queue_list(QueueName::Deferred).unwrap()[0];
    assert_eq!(rec.recipients[0].address, "friend@elsewhere.example");
    assert_eq!(rec.auth_as.as_deref(), Some("bob@example.com"));
}

fn base64_plain(user: &str, pass: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{pass}"))
}

#[test]
fn failed_auth_goes_to_the_auth_failure_log() {
    let server = TestServer::start_with("allow_plaintext_auth = true");
    let mut s = Client::connect(server.addr("submission"));
    s.cmd("EHLO client.example.net");
    let r = s.cmd(&format!(
        "AUTH PLAIN {}",
        base64_plain("bob@example.com", "wrong")
    ));
    assert!(r.starts_with("535 5.7.8"), "{r}");
    let r = s.cmd(&format!(
        "AUTH PLAIN {}",
        base64_plain("ghost@example.com", "x")
    ));
    assert!(r.starts_with("535"), "{r}");
    let log = std::fs::read_to_string(server.data_dir().join("logs/auth-failures.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(lines[0].contains("protocol=smtp") && lines[0].contains("ip=127.0.0.1"));
    assert!(
        lines[0].contains("login=\"bob@example.com\" account=bob@example.com"),
        "{log}"
    );
    assert!(
        lines[1].contains("login=\"ghost@example.com\" account=none"),
        "{log}"
    );
    assert!(!log.contains("wrong"), "never log a password");
}

#[test]
fn size_limits_reject_and_drop() {
    let server = TestServer::start_with("drop_connection_size = 200000");
    let mut c = Client::connect(server.addr("smtp"));
    c.cmd("EHLO client.example.net");
    let r = c.cmd("MAIL FROM:<a@example.net> SIZE=100001");
    assert!(r.starts_with("552 5.3.4"), "declared size: {r}");
    let r = c.cmd("MAIL FROM:<a@example.net>");
    assert!(r.starts_with("250"), "{r}");
    c.cmd("RCPT TO:<bob@example.com>");
    let big = format!(
        "Subject: big\r\n\r\n{}",
        ("x".repeat(76) + "\r\n").repeat(1400)
    );
    let r = c.data(&big);
    assert!(r.starts_with("552 5.3.4"), "after DATA: {r}");
    // The session lives on after a 552.
    let r = c.cmd("NOOP");
    assert!(r.starts_with("250"), "{r}");

    // Beyond the drop threshold the server stops reading and closes.
    let mut d = Client::connect(server.addr("smtp"));
    d.cmd("EHLO client.example.net");
    d.cmd("MAIL FROM:<a@example.net>");
    d.cmd("RCPT TO:<bob@example.com>");
    assert!(d.cmd("DATA").starts_with("354"));
    let chunk = "y".repeat(998) + "\r\n";
    let mut closed = false;
    for _ in 0..400 {
        if std::io::Write::write_all(&mut d.stream, chunk.as_bytes()).is_err() {
            closed = true;
            break;
        }
    }
    let rest = d.read_to_close();
    assert!(closed || rest.contains("552"), "dropped: {rest}");
    assert!(server.inbox("bob@example.com").is_empty());
}

#[test]
fn connection_limit_per_ip() {
    let mut server = TestServer::start_with("max_connections_per_ip = 2");
    // Loopback is a trusted network by default, held only to the total: three at once.
    let held: Vec<_> = ["smtp", "submission", "smtp"]
        .iter()
        .map(|s| Client::connect(server.addr(s)))
        .collect();
    for c in &held {
        assert!(c.greeting.starts_with("220 "), "{}", c.greeting);
    }
    drop(held);
    // Untrusted, the third is refused.
    server.config.screening.trusted.clear();
    server.restart();
    let _a = Client::connect(server.addr("smtp"));
    let _b = Client::connect(server.addr("submission"));
    let c = Client::connect(server.addr("smtp"));
    assert!(c.greeting.starts_with("421 4.7.0"), "{}", c.greeting);
}

#[test]
fn shutdown_tells_idle_sessions_and_restart_resumes_queues() {
    let mut server = TestServer::start();
    let mut idle = Client::connect(server.addr("smtp"));
    idle.cmd("EHLO client.example.net");

    // A record left in the inbound queue is routed and delivered at the next start.
    let store = server.store();
    let (_, queues) = server.writers();
    let blob = store
        .blobs()
        .put(b"Subject: left over\r\n\r\nfrom before the restart\r\n")
        .unwrap();
    let id = store.next_queue_id().unwrap();
    // Put straight into storage, as a crash between accepting and routing leaves it: the
    // running inbound actor is not told, so only the next start can find it.
    let rec = ferrymail::storage::QueueRecord {
        id,
        queue: QueueName::Inbound,
        blob,
        size: 44,
        mail_from: "sender@example.net".into(),
        recipients: vec![ferrymail::storage::QueueRecipient {
            address: "alice@example.com".into(),
            original: "alice@example.com".into(),
            orcpt: None,
            notify: None,
            delivered: false,
            last_error: None,
        }],
        params: Default::default(),
        received_at: 0,
        due: None,
        attempts: 0,
        last_error: None,
        origin: "test".into(),
        auth_as: None,
        folder: None,
        history: Vec::new(),
    };
    queues.queue_put(&rec).unwrap();
    store.commit().unwrap();
    drop((store, queues)); // one open store per data directory

    let stopper = std::thread::spawn({
        let h = server.handle.take().unwrap();
        move || h.stop()
    });
    let bye = idle.reply();
    assert!(bye.starts_with("421 4.3.2"), "idle session told: {bye}");
    stopper.join().unwrap();
    server.boot();
    let got = server.wait_inbox("alice@example.com", 1);
    assert_eq!(got.len(), 1);
    assert!(String::from_utf8_lossy(&got[0]).contains("from before the restart"));
}

#[test]
fn health_page_answers() {
    let server = TestServer::start();
    let mut s = std::net::TcpStream::connect(server.addr("http")).unwrap();
    std::io::Write::write_all(&mut s, b"GET /health HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut body = String::new();
    std::io::Read::read_to_string(&mut s, &mut body).unwrap();
    assert!(
        body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"),
        "{body}"
    );
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    // The public listener says only that the server lives (figures: admin, tests/limits.rs).
    assert!(!body.contains("queues"), "{body}");
}

#[test]
fn a_session_mid_data_finishes_its_message_during_shutdown() {
    let mut server = TestServer::start();
    let mut c = Client::connect(server.addr("smtp"));
    c.cmd("EHLO client.example.net");
    c.cmd("MAIL FROM:<a@example.net>");
    c.cmd("RCPT TO:<bob@example.com>");
    assert!(c.cmd("DATA").starts_with("354"));
    c.send("Subject: in flight");
    c.send("");
    let stopper = std::thread::spawn({
        let h = server.handle.take().unwrap();
        move || h.stop()
    });
    // The server is stopping; this session is inside DATA and may finish within the grace.
    std::thread::sleep(Duration::from_millis(300));
    c.send("still being written");
    c.send(".");
    let r = c.reply();
    assert!(r.starts_with("250 2.0.0"), "{r}");
    let bye = c.reply();
    assert!(bye.starts_with("421 4.3.2"), "then told to go: {bye}");
    stopper.join().unwrap();
    server.boot();
    let got = server.wait_inbox("bob@example.com", 1);
    assert_eq!(got.len(), 1);
    assert!(String::from_utf8_lossy(&got[0]).contains("still being written"));
}

#[test]
fn quota_refuses_at_rcpt_and_full_mailboxes_send_mail_to_the_bad_queue() {
    let server = TestServer::start();
    let store = server.store();
    store.set_quota("bob@example.com", None, Some(1)).unwrap();
    let mut c = Client::connect(server.addr("smtp"));
    let r = c.deliver("a@example.net", &["bob@example.com"], &message("fits"));
    assert!(r.starts_with("250"), "{r}");
    server.wait_inbox("bob@example.com", 1);
    c.cmd("EHLO client.example.net");
    c.cmd("MAIL FROM:<a@example.net>");
    let r = c.cmd("RCPT TO:<bob@example.com>");
    assert!(r.starts_with("452 4.2.2"), "over quota at RCPT: {r}");
    c.cmd("RSET");

    // Accepted while there was room; the mailbox fills before delivery: kept in the bad
    // queue with the reason, not retried forever and not lost.
    store.set_quota("bob@example.com", None, Some(2)).unwrap();
    c.cmd("MAIL FROM:<a@example.net>");
    assert!(c.cmd("RCPT TO:<bob@example.com>").starts_with("250"));
    store.set_quota("bob@example.com", None, Some(1)).unwrap();
    let r = c.data(&message("too-late"));
    assert!(r.starts_with("250"), "{r}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.queue_depth(QueueName::Bad) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let bad = server.store().queue_list(QueueName::Bad).unwrap();
    assert_eq!(bad.len(), 1);
    let why = bad[0].recipients[0].last_error.clone().unwrap_or_default();
    assert!(why.contains("552 5.2.2"), "{why}");
    assert_eq!(server.inbox("bob@example.com").len(), 1);

    // The sender hears of it: a failure report to a@example.net, on its way out (this test
    // server has no working DNS, so it waits in the remote or deferred queue).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let report = loop {
        let store = server.store();
        let mut out = store.queue_list(QueueName::Remote).unwrap();
        out.extend(store.queue_list(QueueName::Deferred).unwrap());
        if let Some(r) = out.into_iter().find(|r| {
            r.mail_from.is_empty() && r.recipients.iter().any(|t| t.address == "a@example.net")
        }) {
            break String::from_utf8_lossy(&store.blobs().get(&r.blob).unwrap()).into_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failure report to the sender"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    for want in [
        "Final-Recipient: rfc822; bob@example.com",
        "Action: failed",
        "Status: 5.2.2",
        "Subject: too-late",
    ] {
        assert!(report.contains(want), "missing {want:?} in\n{report}");
    }
}
