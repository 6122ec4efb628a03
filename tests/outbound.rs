//! Outbound delivery end to end, on loopback only: a test DNS server (MX and A records) and
//! a scripted SMTP sink as the remote MX on the configured test port. bob@example.com
//! submits through submission with AUTH; what the sink receives, what the queues hold and
//! what lands in bob's INBOX (bounces) are checked.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::dns::TestDns;
use common::sink::Sink;
use common::{Client, TestServer, PASSWORD};
use ferrymail::actors::queues::{Queued, ReleaseDue, Rescan};
use ferrymail::clock::{Clock, ManualClock};
use ferrymail::storage::{QueueName, QueueRecipient, QueueRecord};

const T0: i64 = 1_800_000_000;

/// DNS with remote.test → mx.remote.test → 127.0.0.1, a sink, and a server using both.
struct World {
    dns: TestDns,
    sink: Sink,
    server: TestServer,
    clock: std::sync::Arc<ManualClock>,
}

fn world(delivery: &str) -> World {
    let dns = TestDns::start();
    dns.mx("remote.test", 10, "mx.remote.test");
    dns.a("mx.remote.test", Ipv4Addr::LOCALHOST);
    let sink = Sink::start();
    let clock = ManualClock::new(T0);
    let sections = format!(
        "{}\n[delivery]\nport = {}\nconnect_timeout = 5\ncommand_timeout = 20\n{delivery}\n",
        dns.config(),
        sink.addr.port()
    );
    let server = TestServer::start_full(
        "allow_plaintext_auth = true",
        &sections,
        Some(clock.clone()),
    );
    World {
        dns,
        sink,
        server,
        clock,
    }
}

/// bob@example.com submits `message` to `to` (each "address" or "address PARAMS"), with
/// `mail_params` on MAIL FROM.
fn submit(server: &TestServer, to: &[&str], mail_params: &str, message: &str) {
    let mut c = Client::connect(server.addr("submission"));
    c.cmd("EHLO client.example.net");
    let r = c.auth_plain("bob@example.com", PASSWORD);
    assert!(r.starts_with("235"), "{r}");
    let r = c.cmd(&format!("MAIL FROM:<bob@example.com>{mail_params}"));
    assert!(r.starts_with("250"), "{r}");
    for t in to {
        let (addr, params) = t.split_once(' ').unwrap_or((t, ""));
        let r = c.cmd(format!("RCPT TO:<{addr}> {params}").trim_end());
        assert!(r.starts_with("250"), "{r}");
    }
    let r = c.data(message);
    assert!(r.starts_with("250"), "{r}");
    c.cmd("QUIT");
}

fn note(subject: &str) -> String {
    format!(
        "From: Bob <bob@example.com>\r\nTo: carol@remote.test\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@example.com>\r\n\r\nHello.\r\n.a line with a dot\r\nBye.\r\n"
    )
}

/// Waits (bounded) until `f` holds.
fn wait_for(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn release_due(server: &TestServer) -> usize {
    let deferred = server.handle().ctx.queues().deferred.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(deferred.send(ReleaseDue))
        .expect("deferred queue answers")
        .expect("release works")
}

fn settled(server: &TestServer) -> bool {
    [QueueName::Inbound, QueueName::Local, QueueName::Remote]
        .iter()
        .all(|q| server.queue_depth(*q) == 0)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn delivers_to_the_mx_with_dsn_parameters_passed_on() {
    let w = world("");
    w.sink.offer_dsn(true);
    submit(
        &w.server,
        &["carol@remote.test NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;carol@remote.test"],
        " RET=HDRS ENVID=abc123",
        &note("outbound"),
    );
    let got = w.sink.wait_accepted(1);
    assert_eq!(got.len(), 1, "delivered");
    let m = &got[0];
    assert_eq!(m.mail_from, "bob@example.com");
    assert_eq!(m.rcpts, vec!["carol@remote.test"]);
    assert!(
        m.mail_line.contains("RET=HDRS") && m.mail_line.contains("ENVID=abc123"),
        "{}",
        m.mail_line
    );
    assert!(
        m.rcpt_lines[0].contains("NOTIFY=SUCCESS,FAILURE")
            && m.rcpt_lines[0].contains("ORCPT=rfc822;carol@remote.test"),
        "{:?}",
        m.rcpt_lines
    );
    assert!(m.data.contains("Subject: outbound\r\n"));
    assert!(
        m.data.contains("\r\n.a line with a dot\r\n"),
        "unstuffed as sent: {}",
        m.data
    );
    assert!(
        m.data.starts_with("Received: "),
        "our trace header goes along"
    );
    wait_for("queues settle", || settled(&w.server));
    assert_eq!(w.server.queue_depth(QueueName::Deferred), 0);
    // The peer offers DSN: it reports success itself, so no report from us.
    std::thread::sleep(Duration::from_millis(300));
    assert!(w.server.inbox("bob@example.com").is_empty());
    drop(w.dns);
}

#[test]
fn temporary_failure_is_retried_on_schedule_and_delivered_once() {
    let w = world("");
    w.sink.next_data_reply("451 4.3.0 try again later");
    submit(&w.server, &["carol@remote.test"], "", &note("retry"));
    wait_for("the deferral", || {
        w.server.queue_depth(QueueName::Deferred) == 1
    });
    let rec = &w.server.store().queue_list(QueueName::Deferred).unwrap()[0];
    assert_eq!(rec.attempts, 1);
    assert_eq!(rec.due, Some(T0 + 15 * 60), "first retry 15 minutes later");
    assert_eq!(
        rec.recipients[0].last_error.as_deref(),
        Some("451 4.3.0 try again later")
    );
    let (ok, listing) = w.server.console("queue list deferred");
    assert!(ok, "{listing}");
    assert!(listing.contains("451 4.3.0 try again later"), "{listing}");
    assert!(listing.contains("next attempt"), "{listing}");

    w.clock.advance(14 * 60);
    assert_eq!(release_due(&w.server), 0, "not due yet");
    w.clock.advance(61);
    assert_eq!(release_due(&w.server), 1);
    let got = w.sink.wait_accepted(1);
    assert_eq!(got.len(), 1);
    wait_for("queues settle", || settled(&w.server));
    assert_eq!(w.server.queue_depth(QueueName::Deferred), 0);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(w.sink.accepted().len(), 1, "delivered exactly once");
    assert_eq!(w.sink.received().len(), 2, "one refusal, one delivery");
    assert!(
        w.server.inbox("bob@example.com").is_empty(),
        "no delay notice yet"
    );
}

#[test]
fn permanent_failure_bounces_to_the_senders_inbox_and_the_rest_is_delivered() {
    let w = world("");
    w.sink
        .rcpt_reply("nobody@remote.test", "550 5.1.1 no such user here");
    submit(
        &w.server,
        &["nobody@remote.test", "carol@remote.test"],
        "",
        &note("partial"),
    );
    let got = w.sink.wait_accepted(1);
    assert_eq!(got[0].rcpts, vec!["carol@remote.test"]);
    let inbox = w.server.wait_inbox("bob@example.com", 1);
    assert_eq!(inbox.len(), 1, "one bounce");
    let dsn = text(&inbox[0]);
    for want in [
        "Subject: Undelivered Mail Returned to Sender",
        "multipart/report",
        "report-type=",
        "Reporting-MTA: dns; mx.example.com",
        "Final-Recipient: rfc822; nobody@remote.test",
        "Action: failed",
        "Status: 5.1.1",
        "Remote-MTA: dns; mx.remote.test",
        "Diagnostic-Code: smtp; 550 5.1.1 no such user here",
        // The original message comes back with its headers.
        "Subject: partial",
        "Message-ID: <partial@example.com>",
    ] {
        assert!(dsn.contains(want), "missing {want:?} in\n{dsn}");
    }
    assert!(!dsn.contains("Final-Recipient: rfc822; carol@remote.test"));
    wait_for("queues settle", || settled(&w.server));
    assert_eq!(w.server.queue_depth(QueueName::Deferred), 0);
    assert_eq!(w.server.queue_depth(QueueName::Bad), 0);
}

#[test]
fn expiry_bounces_after_the_configured_lifetime() {
    let w = world("retry_schedule = [\"10m\"]\nmessage_lifetime = \"1h\"\ndelay_notice = \"0\"");
    w.sink
        .rcpt_reply("carol@remote.test", "452 4.2.2 mailbox full");
    submit(&w.server, &["carol@remote.test"], "", &note("expiring"));
    let mut attempts = 0;
    for round in 1..=10 {
        wait_for("the deferral", || {
            w.server.queue_depth(QueueName::Deferred) == 1
                || !w.server.inbox("bob@example.com").is_empty()
        });
        if !w.server.inbox("bob@example.com").is_empty() {
            break;
        }
        let rec = &w.server.store().queue_list(QueueName::Deferred).unwrap()[0];
        attempts = rec.attempts;
        assert_eq!(attempts, round, "one attempt per round");
        let due = rec.due.expect("due time");
        assert!(due <= T0 + 3600, "never scheduled past the lifetime");
        w.clock.advance(due - w.clock.now());
        assert_eq!(release_due(&w.server), 1);
        wait_for("the next attempt", || {
            w.server.queue_depth(QueueName::Deferred) == 1
                && w.server.store().queue_list(QueueName::Deferred).unwrap()[0].attempts > round
                || !w.server.inbox("bob@example.com").is_empty()
        });
    }
    assert_eq!(attempts, 6, "attempts at 0, 10, 20 … 60 minutes");
    let inbox = w.server.wait_inbox("bob@example.com", 1);
    let dsn = text(&inbox[0]);
    for want in [
        "Action: failed",
        "Status: 4.2.2",
        "gave up after 7 attempts",
        "Subject: expiring",
    ] {
        assert!(dsn.contains(want), "missing {want:?} in\n{dsn}");
    }
    wait_for("queues settle", || settled(&w.server));
    assert_eq!(w.server.queue_depth(QueueName::Deferred), 0);
    assert!(w.sink.accepted().is_empty());
}

#[test]
fn null_mx_bounces_at_once_without_connecting() {
    let w = world("");
    w.dns.mx("nomail.test", 0, ".");
    submit(&w.server, &["someone@nomail.test"], "", &note("nullmx"));
    let inbox = w.server.wait_inbox("bob@example.com", 1);
    assert_eq!(inbox.len(), 1);
    let dsn = text(&inbox[0]);
    assert!(dsn.contains("Status: 5.1.10"), "{dsn}");
    assert!(dsn.contains("null MX"), "{dsn}");
    assert_eq!(
        w.sink.connections.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert_eq!(w.server.queue_depth(QueueName::Deferred), 0);
}

#[test]
fn a_failing_bounce_is_kept_in_the_bad_queue_never_bounced() {
    let w = world("");
    w.sink.rcpt_reply("gone@remote.test", "550 5.1.1 gone");
    let store = w.server.store();
    let (_, queues) = w.server.writers();
    let body = b"From: MAILER-DAEMON@elsewhere.test\r\nSubject: a bounce\r\n\r\nbounced\r\n";
    let rec = QueueRecord {
        id: store.next_queue_id().unwrap(),
        queue: QueueName::Remote,
        blob: store.blobs().put(body).unwrap(),
        size: body.len() as u64,
        mail_from: String::new(),
        recipients: vec![QueueRecipient::new("gone@remote.test")],
        params: Default::default(),
        received_at: T0,
        due: None,
        attempts: 0,
        last_error: None,
        origin: "test".into(),
        auth_as: None,
        folder: None,
        history: Vec::new(),
    };
    queues.queue_put(&rec).unwrap();
    w.server
        .handle()
        .ctx
        .queues()
        .remote
        .do_send(Queued(rec.id));
    wait_for("the bad queue", || {
        w.server.queue_depth(QueueName::Bad) == 1
    });
    let bad = &store.queue_list(QueueName::Bad).unwrap()[0];
    assert_eq!(
        bad.last_error.as_deref(),
        Some("undeliverable bounce: 550 5.1.1 gone")
    );
    wait_for("queues settle", || settled(&w.server));
    assert!(w.server.inbox("bob@example.com").is_empty());
}

#[test]
fn console_bounce_and_dns_lookups() {
    let w = world("");
    w.dns.txt("remote.test", "v=spf1 -all");
    let (ok, out) = w.server.console("dns mx remote.test");
    assert!(ok, "{out}");
    assert!(out.contains("10 mx.remote.test"), "{out}");
    let (ok, out) = w.server.console("dns a mx.remote.test");
    assert!(ok && out.contains("127.0.0.1"), "{out}");
    let (ok, out) = w.server.console("dns txt remote.test");
    assert!(ok && out.contains("v=spf1 -all"), "{out}");
    let (ok, out) = w.server.console("dns mx unknown.test");
    assert!(!ok && out.contains("no such domain"), "{out}");

    w.sink.next_data_reply("451 4.3.0 later");
    submit(&w.server, &["carol@remote.test"], "", &note("tobounce"));
    wait_for("the deferral", || {
        w.server.queue_depth(QueueName::Deferred) == 1
    });
    let id = w.server.store().queue_list(QueueName::Deferred).unwrap()[0].id;
    let (ok, out) = w.server.console(&format!("queue bounce {id:016X}"));
    assert!(ok, "{out}");
    assert!(out.contains("bounced"), "{out}");
    let inbox = w.server.wait_inbox("bob@example.com", 1);
    let dsn = text(&inbox[0]);
    assert!(
        dsn.contains("Final-Recipient: rfc822; carol@remote.test"),
        "{dsn}"
    );
    assert!(dsn.contains("Status: 5.0.0"), "{dsn}");
    assert_eq!(w.server.queue_depth(QueueName::Deferred), 0);
}

#[test]
fn one_connection_carries_every_queued_message_of_a_destination() {
    let w = world("max_connections_per_domain = 1");
    let store = w.server.store();
    let (_, queues) = w.server.writers();
    for n in 0..3 {
        let body = note(&format!("batch{n}"));
        let rec = QueueRecord {
            id: store.next_queue_id().unwrap(),
            queue: QueueName::Remote,
            blob: store.blobs().put(body.as_bytes()).unwrap(),
            size: body.len() as u64,
            mail_from: "bob@example.com".into(),
            recipients: vec![QueueRecipient::new("carol@remote.test")],
            params: Default::default(),
            received_at: T0,
            due: None,
            attempts: 0,
            last_error: None,
            origin: "test".into(),
            auth_as: None,
            folder: None,
            history: Vec::new(),
        };
        queues.queue_put(&rec).unwrap();
    }
    // One scan queues all three before the worker asks for its first.
    w.server.handle().ctx.queues().remote.do_send(Rescan);
    let got = w.sink.wait_accepted(3);
    assert_eq!(got.len(), 3);
    assert_eq!(
        w.sink.connections.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one connection for the destination"
    );
    wait_for("queues settle", || settled(&w.server));
}

#[test]
fn smarthost_relays_everything_with_auth_over_starttls() {
    // The relay is a second Ferrymail: submission needs STARTTLS, then AUTH.
    let relay = TestServer::start();
    // The relay's account sends for the whole domain (sender authorization): a smarthost
    // account carries other users' mail, so it is made the domain's administrator there.
    let rstore = relay.store();
    rstore
        .add_domain_admin("alice@example.com", "example.com")
        .unwrap();
    rstore.commit().unwrap();
    let sections = format!(
        "[delivery]\nsmarthost = \"{}\"\nsmarthost_user = \"alice@example.com\"\n\
         smarthost_password = \"{PASSWORD}\"\nconnect_timeout = 5\ncommand_timeout = 20\n",
        relay.addr("submission")
    );
    let server = TestServer::start_full("allow_plaintext_auth = true", &sections, None);
    submit(&server, &["dave@far.test"], "", &note("via relay"));
    // At the relay the message waits for its own delivery to far.test (its DNS fails).
    wait_for("the relay to accept", || {
        relay.queue_depth(QueueName::Remote) + relay.queue_depth(QueueName::Deferred) == 1
    });
    let rec = [QueueName::Remote, QueueName::Deferred]
        .iter()
        .flat_map(|q| rstore.queue_list(*q).unwrap())
        .next()
        .expect("record at the relay");
    assert_eq!(rec.mail_from, "bob@example.com");
    assert_eq!(rec.recipients[0].address, "dave@far.test");
    assert_eq!(rec.auth_as.as_deref(), Some("alice@example.com"));
    let body = text(&rstore.blobs().get(&rec.blob).unwrap());
    assert!(body.contains("with ESMTPSA"), "TLS and AUTH: {body}");
    assert!(body.contains("Subject: via relay"));
    wait_for("queues settle", || settled(&server));
    assert_eq!(server.queue_depth(QueueName::Deferred), 0);
}

#[test]
fn local_delivery_reports_success_when_asked() {
    let w = world("");
    submit(
        &w.server,
        &["alice@example.com NOTIFY=SUCCESS", "carol@remote.test"],
        " ENVID=local-1",
        &note("hello alice"),
    );
    assert_eq!(w.server.wait_inbox("alice@example.com", 1).len(), 1);
    let inbox = w.server.wait_inbox("bob@example.com", 1);
    assert_eq!(inbox.len(), 1, "one success report, none for carol");
    let dsn = text(&inbox[0]);
    for want in [
        "Subject: Successful Mail Delivery Report",
        "Original-Envelope-Id: local-1",
        "Final-Recipient: rfc822; alice@example.com",
        "Action: delivered",
        "Status: 2.0.0",
        "Content-Type: text/rfc822-headers",
    ] {
        assert!(dsn.contains(want), "missing {want:?} in\n{dsn}");
    }
    assert!(!dsn.contains("Hello."), "headers only: {dsn}");
    w.sink.wait_accepted(1);
    wait_for("queues settle", || settled(&w.server));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        w.server.inbox("bob@example.com").len(),
        1,
        "no report for carol"
    );
}

#[test]
fn a_delay_notice_goes_once_when_the_message_has_waited_long_enough() {
    let w = world("retry_schedule = [\"10m\"]\nmessage_lifetime = \"2h\"\ndelay_notice = \"20m\"");
    w.sink.rcpt_reply("carol@remote.test", "451 4.4.1 not now");
    submit(&w.server, &["carol@remote.test"], "", &note("slow"));
    // Attempts at 0, 10 and 20 minutes; the third is the first at or past 20 minutes.
    for round in 1..=4u32 {
        wait_for("the deferral", || {
            w.server
                .store()
                .queue_list(QueueName::Deferred)
                .unwrap()
                .first()
                .is_some_and(|r| r.attempts == round)
        });
        let notices = w.server.inbox("bob@example.com").len();
        let want = if round >= 3 { 1 } else { 0 };
        if round == 3 {
            w.server.wait_inbox("bob@example.com", 1);
        } else {
            assert_eq!(notices, want, "notices after attempt {round}");
        }
        let due = w.server.store().queue_list(QueueName::Deferred).unwrap()[0]
            .due
            .expect("due time");
        w.clock.advance(due - w.clock.now());
        assert_eq!(release_due(&w.server), 1);
    }
    let inbox = w.server.inbox("bob@example.com");
    assert_eq!(inbox.len(), 1, "one delay notice, not one per attempt");
    let dsn = text(&inbox[0]);
    for want in [
        "multipart/report",
        "Final-Recipient: rfc822; carol@remote.test",
        "Action: delayed",
        "Status: 4.4.1",
        "Diagnostic-Code: smtp; 451 4.4.1 not now",
        "Will-Retry-Until:",
    ] {
        assert!(dsn.contains(want), "missing {want:?} in\n{dsn}");
    }
    assert!(w.sink.accepted().is_empty());
}

/// The subject of a queued record's message.
fn subject_of(server: &TestServer, rec: &QueueRecord) -> String {
    let body = text(&server.store().blobs().get(&rec.blob).expect("body"));
    body.lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_default()
        .to_string()
}

/// The remote-queue records, by subject.
fn remote_by_subject(server: &TestServer) -> Vec<(String, u64)> {
    let recs = server.store().queue_list(QueueName::Remote).expect("list");
    recs.iter().map(|r| (subject_of(server, r), r.id)).collect()
}

/// The contract for console changes to a record a remote worker is delivering: `queue
/// retry|delete|bounce|move` answer "busy, try again" and change nothing, and the attempt
/// settles as if they had not been sent (delivered once). A record still waiting for the
/// worker is changed at once: deleted, it is never delivered; retried, it goes round
/// through inbound and is delivered once. No record is lost or left behind.
#[test]
fn console_changes_wait_for_the_worker_delivering_a_record() {
    let w = world("max_connections_per_domain = 1");
    w.sink.hold_data(true);
    submit(&w.server, &["carol@remote.test"], "", &note("in-flight"));
    wait_for("the worker to hold in DATA", || w.sink.held() == 1);
    submit(&w.server, &["carol@remote.test"], "", &note("deleted"));
    submit(&w.server, &["carol@remote.test"], "", &note("retried"));
    // One worker per destination: the two wait in line behind the held one.
    wait_for("three records in the remote queue", || {
        remote_by_subject(&w.server).len() == 3 && w.server.queue_depth(QueueName::Inbound) == 0
    });
    let id = |subject: &str| {
        remote_by_subject(&w.server)
            .into_iter()
            .find(|(s, _)| s == subject)
            .map(|(_, id)| id)
            .unwrap_or_else(|| panic!("no record for {subject}"))
    };
    let (held, deleted, retried) = (id("in-flight"), id("deleted"), id("retried"));

    for cmd in ["retry", "delete", "bounce", "move"] {
        let line = match cmd {
            "move" => format!("queue move {held:X} bad"),
            _ => format!("queue {cmd} {held:X}"),
        };
        let (ok, out) = w.server.console(&line);
        assert!(!ok && out.contains("busy, try again"), "{line}: {out}");
    }
    assert_eq!(id("in-flight"), held, "the held record is untouched");
    assert_eq!(w.server.queue_depth(QueueName::Bad), 0);

    let (ok, out) = w.server.console(&format!("queue delete {deleted:X}"));
    assert!(ok && out.contains("deleted from the remote queue"), "{out}");
    let (ok, out) = w.server.console(&format!("queue retry {retried:X}"));
    assert!(
        ok && out.contains("retried from remote, another attempt now: "),
        "{out}"
    );
    assert_eq!(w.sink.held(), 1, "still held while the console worked");

    w.sink.hold_data(false);
    wait_for("two deliveries and empty queues", || {
        w.sink.accepted().len() >= 2 && QueueName::ALL.iter().all(|q| w.server.queue_depth(*q) == 0)
    });
    let mut subjects: Vec<String> = w
        .sink
        .accepted()
        .iter()
        .filter_map(|m| {
            m.data
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .map(str::to_string)
        })
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        ["in-flight", "retried"],
        "each once, the deleted never"
    );
    let (ok, out) = w.server.console(&format!("queue delete {held:X}"));
    assert!(!ok && out.contains("no queued message"), "{out}");
    assert!(
        w.server.inbox("bob@example.com").is_empty(),
        "no report to the sender"
    );
}

/// A delivery the MX defers (4xx) leaves its attempts in the record: one entry per
/// attempt with the time, the MX, the status and the reply; and the dashboard's message
/// page shows them.
#[test]
fn a_deferred_delivery_keeps_its_attempts_and_the_dashboard_shows_them() {
    let w = world("retry_schedule = [\"10m\"]");
    w.sink
        .rcpt_reply("carol@remote.test", "451 4.7.1 greylisted, come back later");
    submit(&w.server, &["carol@remote.test"], "", &note("history"));
    wait_for("the deferral", || {
        w.server.queue_depth(QueueName::Deferred) == 1
    });
    let rec = w.server.store().queue_list(QueueName::Deferred).unwrap()[0].clone();
    assert_eq!(rec.history.len(), 1, "{:?}", rec.history);
    let a = &rec.history[0];
    assert_eq!((a.attempt, a.at), (1, T0));
    assert_eq!(a.recipient, "carol@remote.test");
    assert_eq!(a.host.as_deref(), Some("mx.remote.test"), "{a:?}");
    assert_eq!(a.status, "4.7.1");
    assert!(a.text.contains("greylisted"), "{a:?}");
    assert_eq!(a.outcome, ferrymail::storage::AttemptOutcome::Deferred);

    // A second attempt when due adds its own entry, the first kept.
    w.clock.advance(rec.due.unwrap() - w.clock.now());
    assert_eq!(release_due(&w.server), 1);
    wait_for("the second attempt", || {
        w.server.queue_depth(QueueName::Deferred) == 1
            && w.server.store().queue_list(QueueName::Deferred).unwrap()[0].attempts == 2
    });
    let rec = w.server.store().queue_list(QueueName::Deferred).unwrap()[0].clone();
    let numbers: Vec<u32> = rec.history.iter().map(|a| a.attempt).collect();
    assert_eq!(numbers, vec![1, 2]);
    assert!(rec.history[1].at > rec.history[0].at);

    let (ok, out) = w
        .server
        .console("account add root@example.com --password 'root pw' --admin");
    assert!(ok, "{out}");
    let web = common::web::WebSession::login(w.server.addr("admin"), "root@example.com", "root pw");
    let page = web.get(&format!("/queues/record/{:016x}", rec.id));
    let body = page.text();
    let table = body
        .split("id=\"record-history\"")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("no history table in\n{body}"));
    assert_eq!(
        table.matches("greylisted, come back later").count(),
        2,
        "{table}"
    );
    assert!(
        table.contains("mx.remote.test") && table.contains("4.7.1"),
        "{table}"
    );
    assert!(table.contains("deferred"), "{table}");
}
