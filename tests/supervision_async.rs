//! Supervision of async work: panics armed inside futures (a remote delivery in flight, a
//! local delivery between two recipients, an acceptor's loop, the console socket, a folder
//! actor dying outside `guarded`) are contained and counted, the work is made anew in the
//! same process, and every acknowledged message arrives exactly once.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::dns::TestDns;
use common::fetch::wait_until;
use common::sink::Sink;
use common::{message, ok, Client, Imap, TestServer, PASSWORD};
use ferrymail::storage::QueueName;

/// Waits (bounded, 30 s) until `f` holds; fails the test with `what` otherwise.
fn wait_for(what: &str, f: impl FnMut() -> bool) {
    assert!(wait_until(30, f), "timed out waiting for {what}");
}

/// Nothing left to route or deliver locally.
fn local_work_done(server: &TestServer) -> bool {
    [QueueName::Inbound, QueueName::Local]
        .iter()
        .all(|q| server.queue_depth(*q) == 0)
}

/// `actor_restarts` as `GET /health` on the admin listener reports it.
fn health_restarts(server: &TestServer) -> u64 {
    // The admin listener is HTTPS.
    let json = common::http::get(server.addr("admin"), true, "/health").json();
    json["actor_restarts"].as_u64().expect("actor_restarts")
}

/// One message from outside to local `rcpts` over the smtp listener; the final reply.
fn deliver(server: &TestServer, rcpts: &[&str], subject: &str) -> String {
    let mut c = Client::connect(server.addr("smtp"));
    c.deliver("sender@example.net", rcpts, &message(subject))
}

#[test]
fn panic_mid_remote_delivery_leaves_the_record_for_a_new_worker() {
    let dns = TestDns::start();
    dns.mx("remote.test", 10, "mx.remote.test");
    dns.a("mx.remote.test", Ipv4Addr::LOCALHOST);
    let sink = Sink::start();
    let sections = format!(
        "{}\n[delivery]\nport = {}\nconnect_timeout = 5\ncommand_timeout = 20\n",
        dns.config(),
        sink.addr.port()
    );
    let server = TestServer::start_full("allow_plaintext_auth = true", &sections, None);
    let ctx = server.handle().ctx.clone();
    let before = health_restarts(&server);

    // The first delivery attempt panics with the connection open and the body read.
    ctx.faults.arm("remote.deliver", 1);
    let mut c = Client::connect(server.addr("submission"));
    c.cmd("EHLO client.example.net");
    assert!(c.auth_plain("bob@example.com", PASSWORD).starts_with("235"));
    for (i, subject) in ["remote-one", "remote-two"].iter().enumerate() {
        assert!(c.cmd("MAIL FROM:<bob@example.com>").starts_with("250"));
        assert!(c.cmd("RCPT TO:<carol@remote.test>").starts_with("250"));
        // Submitted as bob: sender authorization allows only his own From:.
        let r = c.data(&message(subject).replace("Sender <sender@example.net>", "bob@example.com"));
        assert!(r.starts_with("250"), "message {i}: {r}");
    }

    let got = sink.wait_accepted(2);
    assert_eq!(got.len(), 2, "both delivered after the panic");
    wait_for("the remote queue to empty", || {
        local_work_done(&server) && server.queue_depth(QueueName::Remote) == 0
    });
    // Nothing is left anywhere that could send either message again.
    assert_eq!(server.queue_depth(QueueName::Deferred), 0);
    assert_eq!(server.queue_depth(QueueName::Bad), 0);
    let accepted = sink.accepted();
    for subject in ["remote-one", "remote-two"] {
        let copies = accepted
            .iter()
            .filter(|m| m.data.contains(&format!("Subject: {subject}\r\n")))
            .count();
        assert_eq!(copies, 1, "{subject} delivered exactly once");
    }
    assert_eq!(ctx.registry.restarts("queue/remote"), 1);
    assert_eq!(health_restarts(&server), before + 1);
}

#[test]
fn panic_after_a_local_delivery_retries_only_the_rest() {
    let server = TestServer::start();
    let ctx = server.handle().ctx.clone();

    // One record for two local recipients: the panic comes right after the first one's
    // append, inside the local queue's delivery future.
    ctx.faults.arm("local.delivered", 1);
    let r = deliver(&server, &["bob@example.com", "alice@example.com"], "local");
    assert!(r.starts_with("250"), "{r}");
    wait_for("both deliveries", || {
        server.inbox("bob@example.com").len() == 1 && server.inbox("alice@example.com").len() == 1
    });
    wait_for("the local queue to empty", || local_work_done(&server));
    assert_eq!(ctx.registry.restarts("queue/local"), 1);

    // The restarted queue goes on delivering.
    let r = deliver(&server, &["bob@example.com"], "after");
    assert!(r.starts_with("250"), "{r}");
    wait_for("the next delivery", || {
        server.inbox("bob@example.com").len() == 2
    });
    wait_for("the local queue to empty", || local_work_done(&server));
    assert_eq!(server.inbox("bob@example.com").len(), 2, "exactly once");
    assert_eq!(server.inbox("alice@example.com").len(), 1, "exactly once");
    assert!(health_restarts(&server) >= 1);
}

#[test]
fn panic_in_the_smtp_accept_loop_keeps_the_listener_accepting() {
    let server = TestServer::start();
    let ctx = server.handle().ctx.clone();

    // A session opened before the fault is not disturbed by it.
    let mut bystander = Client::connect(server.addr("smtp"));
    assert!(
        bystander.greeting.starts_with("220"),
        "{}",
        bystander.greeting
    );

    ctx.faults.arm("listener.accept", 1);
    let mut lost = Client::connect(server.addr("smtp"));
    assert_eq!(
        lost.greeting, "",
        "the connection accepted by the failing loop is closed"
    );
    assert_eq!(lost.read_to_close(), "");

    // The acceptor was made anew on the same socket.
    let r = deliver(&server, &["bob@example.com"], "after-accept-panic");
    assert!(r.starts_with("250"), "{r}");
    let r = bystander.deliver("x@example.net", &["bob@example.com"], &message("bystander"));
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(server.wait_inbox("bob@example.com", 2).len(), 2);
    wait_for("the local queue to empty", || local_work_done(&server));
    assert_eq!(server.inbox("bob@example.com").len(), 2, "exactly once");
    assert_eq!(ctx.registry.restarts("listener/smtp"), 1);
    assert_eq!(health_restarts(&server), 1);

    let (ok, out) = server.console("actors");
    assert!(ok, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("listener/smtp"))
        .unwrap_or_else(|| panic!("no listener/smtp in {out}"));
    assert!(line.contains("restarts=1"), "{line}");
}

#[test]
fn repeated_accept_loop_panics_back_off_and_the_listener_recovers() {
    let server = TestServer::start();
    let ctx = server.handle().ctx.clone();
    ctx.faults.arm("listener.accept", 3);
    for i in 0..3 {
        let c = Client::connect(server.addr("smtp"));
        assert_eq!(c.greeting, "", "connection {i} meets a failing loop");
    }
    // Three failures within the window: the third restart waits (2 s), and connections
    // made meanwhile wait in the socket's backlog, then are served.
    // (The socket closes while the panic unwinds, a moment before it is counted.)
    wait_for("three counted failures", || {
        ctx.registry.restarts("listener/smtp") == 3
    });
    assert_eq!(
        ctx.registry.restart_delay("listener/smtp"),
        Duration::from_secs(2)
    );
    let r = deliver(&server, &["bob@example.com"], "after-back-off");
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(server.wait_inbox("bob@example.com", 1).len(), 1);
}

#[test]
fn panic_in_an_smtp_session_ends_only_that_session() {
    let server = TestServer::start();
    let ctx = server.handle().ctx.clone();
    let mut other = Client::connect(server.addr("smtp"));
    assert!(other.greeting.starts_with("220"), "{}", other.greeting);

    ctx.faults.arm("smtp.session", 1);
    let lost = Client::connect(server.addr("smtp"));
    assert_eq!(
        lost.greeting, "",
        "the failing session's connection is closed"
    );
    // Contained, the failed session still stops cleanly: it leaves the open-session count.
    wait_for("the failed session to be counted and closed", || {
        ctx.registry.restarts("session/smtp") == 1 && ctx.stats.open_sessions() == 1
    });
    let r = other.deliver("x@example.net", &["bob@example.com"], &message("other"));
    assert!(r.starts_with("250"), "{r}");
    let r = deliver(&server, &["bob@example.com"], "next");
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(server.wait_inbox("bob@example.com", 2).len(), 2);
}

#[test]
fn panic_in_the_console_socket_loop_keeps_the_console_answering() {
    let server = TestServer::start();
    let ctx = server.handle().ctx.clone();
    let socket = ferrymail::admin::socket::socket_path(&server.data_dir());
    let ask =
        || ferrymail::admin::control::client_request(&socket, "actors", Duration::from_secs(10));

    ctx.faults.arm("control.accept", 1);
    assert!(
        ask().is_err(),
        "the request met by the failing loop gets no answer"
    );
    let out = ask().expect("the console answers again");
    assert!(out.ok, "{}", out.output);
    let line = out
        .output
        .lines()
        .find(|l| l.contains(" control "))
        .unwrap_or_else(|| panic!("no control in {}", out.output));
    assert!(line.contains("restarts=1"), "{line}");
}

#[test]
fn idle_session_hears_of_changes_from_a_folder_actor_made_anew() {
    let server = TestServer::start();
    let ctx = server.handle().ctx.clone();
    let mut idle = Imap::login(server.addr("imap"), "bob@example.com");
    assert!(ok(&idle.cmd("SELECT INBOX")));
    let tag = idle.bump();
    idle.send_raw(format!("{tag} IDLE\r\n").as_bytes());
    assert_eq!(idle.read_line(), "+ idling");

    // The first delivery's announcement panics outside `guarded`: the folder actor dies
    // for good after storing the message, and the watchdog starts a new one.
    ctx.faults.arm("folder.broadcast", 1);
    let r = deliver(&server, &["bob@example.com"], "kills-the-actor");
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(server.wait_inbox("bob@example.com", 1).len(), 1);
    // The delivery's own record is consumed in the append's transaction, before the
    // panic; the local queue's retry of the unanswered append goes to the new actor.
    wait_for("the watchdog to start a new folder actor", || {
        ctx.registry.restarts("folder/bob@example.com/INBOX") == 1
    });

    // The new actor tells the session that was in IDLE before it existed.
    let r = deliver(&server, &["bob@example.com"], "after");
    assert!(r.starts_with("250"), "{r}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while Instant::now() < deadline && seen.len() < 100 {
        let line = idle.read_line();
        if line.is_empty() {
            break;
        }
        let exists = line.starts_with("* ") && line.ends_with(" EXISTS");
        seen.push(line);
        if exists {
            break;
        }
    }
    assert!(
        seen.last().is_some_and(|l| l.ends_with(" EXISTS")),
        "no EXISTS in IDLE after the folder actor was made anew: {seen:?}"
    );
    idle.send_raw(b"DONE\r\n");
    assert!(ok(&idle.until_tagged(&tag)));
    let r = idle.cmd("NOOP");
    assert!(ok(&r), "{r:?}");
    wait_for("the local queue to empty", || local_work_done(&server));
    assert_eq!(
        server.inbox("bob@example.com").len(),
        2,
        "exactly once each"
    );
}
