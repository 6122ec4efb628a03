//! Issue 10 §3: whole-unit deadlines, per-address connection caps and the split health page.
//!
//! The drip tests send a byte (or a whole harmless command) far more often than the
//! deadline, so a per-read timeout would never fire: only a deadline that runs from the
//! unit's start ends them. They assert on the reply, not on time; the reader's bound (20 s,
//! ten times the deadline) only keeps a broken server from hanging the test.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use common::{Client, Imap, TestServer};
use ferrymail::storage::{QueueName, QueueRecipient, QueueRecord};

const DEADLINE: Duration = Duration::from_secs(2);
/// How long a reader waits for the server's verdict before failing the test.
const READ_BOUND: Duration = Duration::from_secs(20);

/// Writes `piece` every 200 ms on a clone of `stream` until the server closes the
/// connection, `stop` is set, or 300 pieces (a minute) were sent.
fn drip(stream: &TcpStream, piece: &'static [u8], stop: Arc<AtomicBool>) -> JoinHandle<usize> {
    let mut s = stream.try_clone().expect("clone");
    std::thread::spawn(move || {
        let mut sent = 0;
        for _ in 0..300 {
            if stop.load(Ordering::SeqCst) || s.write_all(piece).is_err() {
                break;
            }
            sent += 1;
            std::thread::sleep(Duration::from_millis(200));
        }
        sent
    })
}

/// Reads lines until one starts with `want` (at most 500 lines); the lines read.
fn lines_until(reader: &mut impl BufRead, want: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..500 {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => panic!("no {want:?} (read: {e}); got {seen:?}"),
        }
        let done = line.starts_with(want);
        seen.push(line.trim_end().to_string());
        if done {
            return seen;
        }
    }
    panic!("no {want:?}; got {seen:?}");
}

fn connect(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(READ_BOUND)).expect("timeout");
    let r = BufReader::new(s.try_clone().expect("clone"));
    (s, r)
}

/// Runs the drip to its verdict: the drip must still have been going when the server
/// answered `want` (else a per-read timeout after the drip stopped could pass the test).
fn dripped_until(
    stream: &TcpStream,
    reader: &mut impl BufRead,
    piece: &'static [u8],
    want: &str,
) -> Vec<String> {
    let stop = Arc::new(AtomicBool::new(false));
    let dripper = drip(stream, piece, stop.clone());
    let lines = lines_until(reader, want);
    stop.store(true, Ordering::SeqCst);
    let sent = dripper.join().expect("dripper");
    assert!(sent < 300, "the drip ended before the server answered");
    // Closed after the verdict.
    let mut rest = String::new();
    let _ = reader.read_to_string(&mut rest);
    lines
}

#[test]
fn an_smtp_command_line_dripped_a_byte_at_a_time_gets_421() {
    let mut server = TestServer::start();
    server.config.smtp.command_timeout = DEADLINE;
    server.restart();
    let (s, mut r) = connect(server.addr("smtp"));
    assert!(lines_until(&mut r, "220 ")[0].starts_with("220"));
    let lines = dripped_until(&s, &mut r, b"N", "421");
    assert!(lines.last().unwrap().starts_with("421 4.4.2"), "{lines:?}");
}

#[test]
fn a_dripped_smtp_message_gets_421_when_data_timeout_passes() {
    let mut server = TestServer::start();
    server.config.smtp.data_timeout = DEADLINE;
    server.restart();
    let mut c = Client::connect(server.addr("smtp"));
    c.cmd("EHLO client.example.net");
    assert!(c.cmd("MAIL FROM:<a@example.net>").starts_with("250"));
    assert!(c.cmd("RCPT TO:<bob@example.com>").starts_with("250"));
    assert!(c.cmd("DATA").starts_with("354"));
    let mut r = BufReader::new(c.stream.try_clone().expect("clone"));
    // Whole lines of body: each read completes a line, none completes the message.
    let lines = dripped_until(&c.stream, &mut r, b"more text\r\n", "421");
    assert!(lines.last().unwrap().starts_with("421 4.4.2"), "{lines:?}");
    assert!(server.inbox("bob@example.com").is_empty());
}

/// Connects to `service` on a server with a 2 s login deadline, waits for its greeting
/// and drips `command` (whole commands, each answered: a per-read timeout would restart
/// with each) until the server's `verdict`; the lines read.
fn dripped_without_login(
    service: &str,
    greeting: &str,
    command: &'static [u8],
    verdict: &str,
) -> Vec<String> {
    let mut server = TestServer::start();
    server.config.imap.login_timeout = DEADLINE;
    server.config.pop3.login_timeout = DEADLINE;
    server.restart();
    let (s, mut r) = connect(server.addr(service));
    assert!(lines_until(&mut r, greeting)[0].starts_with(greeting));
    dripped_until(&s, &mut r, command, verdict)
}

#[test]
fn imap_commands_without_login_get_bye_after_login_timeout() {
    let lines = dripped_without_login("imap", "* OK", b"n NOOP\r\n", "* BYE");
    assert!(lines.iter().any(|l| l.starts_with("n OK")), "{lines:?}");
}

#[test]
fn pop3_commands_without_login_get_err_after_login_timeout() {
    let lines = dripped_without_login("pop3", "+OK", b"NOOP\r\n", "-ERR Autologout");
    assert!(lines.len() > 1, "some NOOPs were answered first: {lines:?}");
}

#[test]
fn a_literal_that_never_completes_gets_bye_after_literal_timeout() {
    let mut server = TestServer::start();
    server.config.imap.literal_timeout = DEADLINE;
    server.restart();
    let mut c = Imap::login(server.addr("imap"), "bob@example.com");
    c.send_raw(b"a APPEND INBOX {100000}\r\n");
    assert!(c.read_line().starts_with('+'), "continuation");
    let mut r = BufReader::new(c.stream.try_clone().expect("clone"));
    let lines = dripped_until(&c.stream, &mut r, b"x", "* BYE");
    assert!(lines.last().unwrap().starts_with("* BYE"), "{lines:?}");
    assert!(server.inbox("bob@example.com").is_empty());
    // Logged in, not in a literal: a quiet client is not cut off by the literal deadline.
    let mut quiet = Imap::login(server.addr("imap"), "bob@example.com");
    std::thread::sleep(DEADLINE + Duration::from_secs(1));
    assert!(common::ok(&quiet.cmd("NOOP")));
}

#[test]
fn a_logged_in_command_dripped_a_byte_at_a_time_gets_bye_after_idle_timeout() {
    let mut server = TestServer::start();
    // Below the config's minimum (RFC 9051's 30 minutes), set directly for the test: the
    // per-read idle timeout alone never fires for a byte every 200 ms.
    server.config.imap.idle_timeout = DEADLINE;
    server.restart();
    let mut c = Imap::login(server.addr("imap"), "bob@example.com");
    c.send_raw(b"a SEARCH SUBJECT ");
    let mut r = BufReader::new(c.stream.try_clone().expect("clone"));
    let lines = dripped_until(&c.stream, &mut r, b"x", "* BYE");
    assert!(lines.last().unwrap().starts_with("* BYE"), "{lines:?}");
    // Whole commands, however many, are not cut off: each completes.
    let mut busy = Imap::login(server.addr("imap"), "bob@example.com");
    for _ in 0..3 {
        std::thread::sleep(DEADLINE / 2);
        assert!(common::ok(&busy.cmd("NOOP")));
    }
}

#[test]
fn a_logged_in_pop3_command_dripped_a_byte_at_a_time_gets_err_after_idle_timeout() {
    let mut server = TestServer::start();
    // Below the config's minimum (RFC 1939's 10 minutes), set directly for the test.
    server.config.pop3.idle_timeout = DEADLINE;
    server.restart();
    let (mut s, mut r) = connect(server.addr("pop3"));
    assert!(lines_until(&mut r, "+OK")[0].starts_with("+OK"));
    s.write_all(b"USER bob@example.com\r\n").expect("USER");
    assert!(lines_until(&mut r, "+OK")[0].starts_with("+OK"));
    s.write_all(format!("PASS {}\r\n", common::PASSWORD).as_bytes())
        .expect("PASS");
    assert!(
        lines_until(&mut r, "+OK")[0].starts_with("+OK"),
        "logged in"
    );
    s.write_all(b"TOP 1 ").expect("a started line");
    // The autologout, not a "line too long" (which a drip lasting long enough would earn).
    let lines = dripped_until(&s, &mut r, b"1", "-ERR Autologout");
    assert_eq!(lines.len(), 1, "{lines:?}");
}

#[test]
fn imap_and_pop3_refuse_connections_over_the_per_address_cap() {
    let mut server = TestServer::start();
    server.config.imap.max_connections_per_ip = 2;
    server.config.pop3.max_connections_per_ip = 2;
    // Loopback, where the test connects from, is trusted by default and then held only
    // to the total.
    server.config.screening.trusted.clear();
    server.restart();
    let _a = Imap::connect(server.addr("imap"));
    let _b = Imap::connect(server.addr("imaps"));
    let (_s, mut r) = connect(server.addr("imap"));
    let refused = lines_until(&mut r, "* ");
    assert!(refused[0].starts_with("* BYE [UNAVAILABLE]"), "{refused:?}");

    let (_p1, mut r1) = connect(server.addr("pop3"));
    assert!(lines_until(&mut r1, "+OK")[0].starts_with("+OK"));
    let (_p2, mut r2) = connect(server.addr("pop3"));
    assert!(lines_until(&mut r2, "+OK")[0].starts_with("+OK"));
    let (_p3, mut r3) = connect(server.addr("pop3"));
    let refused = lines_until(&mut r3, "-ERR");
    assert!(refused[0].starts_with("-ERR [SYS/TEMP]"), "{refused:?}");
    // A place freed is a place taken again.
    drop((_p1, r1));
    let mut admitted = false;
    for _ in 0..100 {
        let (_p, mut r) = connect(server.addr("pop3"));
        let mut line = String::new();
        let _ = r.read_line(&mut line);
        if line.starts_with("+OK") {
            admitted = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(admitted, "a freed place is not given again");
}

/// `GET path` (over TLS when `tls`: the admin listener), asserting 200; the body.
fn http_get(addr: SocketAddr, tls: bool, path: &str) -> String {
    let res = common::http::get(addr, tls, path);
    assert_eq!(res.status, 200, "{}", res.text());
    res.text()
}

#[test]
fn health_shows_figures_on_admin_only_from_counters() {
    let mut server = TestServer::start();
    server.config.listeners.admin = Some("127.0.0.1:0".parse().unwrap());
    server.restart();
    // A record put in the bad queue is held there (nothing delivers it).
    let store = server.store();
    let (_, queues) = server.writers();
    let blob = store.blobs().put(b"Subject: held\r\n\r\nheld\r\n").unwrap();
    let id = store.next_queue_id().unwrap();
    let mut rec = QueueRecord::inbound(
        id,
        blob,
        22,
        "a@example.net".into(),
        vec![QueueRecipient::new("bob@example.com")],
        "test".into(),
        0,
    );
    rec.queue = QueueName::Bad;
    queues.queue_put(&rec).unwrap();

    let public = http_get(server.addr("http"), false, "/health");
    assert!(public.ends_with("{\"status\":\"ok\"}"), "{public}");
    for private in ["queues", "sessions", "messages_in", "uptime"] {
        assert!(!public.contains(private), "{private} on http: {public}");
    }
    let admin = http_get(server.addr("admin"), true, "/health");
    assert!(admin.contains("\"status\":\"ok\""), "{admin}");
    assert!(admin.contains("\"bad\":1"), "{admin}");
    assert!(admin.contains("\"sessions\""), "{admin}");

    queues.queue_delete(QueueName::Bad, id).unwrap();
    let admin = http_get(server.addr("admin"), true, "/health");
    assert!(admin.contains("\"bad\":0"), "{admin}");
    // The counters survive a restart (counted once at open). The delete collected the
    // body, so the record needs it again.
    rec.blob = store.blobs().put(b"Subject: held\r\n\r\nheld\r\n").unwrap();
    queues.queue_put(&rec).unwrap();
    drop((store, queues));
    server.restart();
    let admin = http_get(server.addr("admin"), true, "/health");
    assert!(admin.contains("\"bad\":1"), "{admin}");
}

#[test]
fn trusted_networks_are_held_only_to_the_total() {
    let mut server = TestServer::start();
    server.config.imap.max_connections_per_ip = 2;
    server.config.pop3.max_connections_per_ip = 1;
    server.restart();
    // 127.0.0.1 is in the default [screening] trusted networks.
    let imap: Vec<_> = (0..5)
        .map(|_| {
            let (s, mut r) = connect(server.addr("imap"));
            let greeting = lines_until(&mut r, "* ");
            assert!(greeting[0].starts_with("* OK"), "{greeting:?}");
            (s, r)
        })
        .collect();
    let pop3: Vec<_> = (0..3)
        .map(|_| {
            let (s, mut r) = connect(server.addr("pop3"));
            let greeting = lines_until(&mut r, "+OK");
            assert!(greeting[0].starts_with("+OK"), "{greeting:?}");
            (s, r)
        })
        .collect();
    drop((imap, pop3));
}
