//! Dynamic screening end to end (issue 10 §5): failed logins over SMTP AUTH, IMAP and POP3
//! from one address ban it on every service (and the http listener); `screen unban` lifts
//! the ban, a restart keeps it, harvesting and AUTH probes on the smtp port count, and a
//! trusted address is never banned. The server runs on 127.0.0.1, which these configs do
//! not trust (the default trusts loopback).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use common::{Client, Imap, TestServer, PASSWORD};

/// Screening with a threshold of 3 failed logins, loopback not trusted.
const SCREENING: &str = "[auth]\nverify = false\n[screening]\ntrusted = []\nauth_failures = 3\n\
                         failed_rcpts = 3\nauth_probes = 2\n";

fn start(tail: &str) -> TestServer {
    TestServer::start_full("allow_plaintext_auth = true", tail, None)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Everything a server says on a new connection before it closes it (bounded by the read
/// timeout): what a refused client sees.
fn refusal(addr: SocketAddr) -> String {
    let mut s = connect(addr);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The status line of `GET /health` on the http listener.
fn http_status(addr: SocketAddr) -> String {
    let mut s = connect(addr);
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line.trim_end().to_string()
}

fn smtp_auth_fails(server: &TestServer) {
    let mut c = Client::connect(server.addr("submission"));
    assert!(c.greeting.starts_with("220"), "{}", c.greeting);
    assert!(c.cmd("EHLO client.example.net").starts_with("250"));
    let r = c.auth_plain("bob@example.com", "wrong");
    assert!(r.starts_with("535"), "{r}");
}

fn imap_login_fails(server: &TestServer) {
    let mut c = Imap::connect(server.addr("imap"));
    assert!(c.greeting.starts_with("* OK"), "{}", c.greeting);
    let r = c.cmd("LOGIN bob@example.com wrong");
    assert!(r.last().unwrap().contains("NO"), "{r:?}");
}

/// POP3 USER/PASS with a wrong password; returns the answer to PASS.
fn pop3_pass(server: &TestServer, password: &str) -> String {
    let s = connect(server.addr("pop3"));
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("+OK"), "{line}");
    let mut say = |cmd: &str| {
        w.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        line
    };
    assert!(say("USER bob@example.com").starts_with("+OK"));
    say(&format!("PASS {password}"))
}

fn assert_banned_everywhere(server: &TestServer) {
    let smtp = refusal(server.addr("smtp"));
    assert!(smtp.starts_with("421 4.7.0 "), "smtp: {smtp:?}");
    let sub = refusal(server.addr("submission"));
    assert!(sub.starts_with("421 4.7.0 "), "submission: {sub:?}");
    let imap = refusal(server.addr("imap"));
    assert!(imap.starts_with("* BYE "), "imap: {imap:?}");
    let pop3 = refusal(server.addr("pop3"));
    assert!(pop3.starts_with("-ERR "), "pop3: {pop3:?}");
    // Implicit TLS: closed before any handshake, without a word.
    for tls in ["smtps", "imaps", "pop3s"] {
        assert_eq!(refusal(server.addr(tls)), "", "{tls}");
    }
    assert_eq!(http_status(server.addr("http")), "HTTP/1.1 403 Forbidden");
}

#[test]
fn failed_logins_on_three_protocols_ban_everywhere_until_unbanned_and_across_restarts() {
    let mut server = start(SCREENING);
    assert_eq!(http_status(server.addr("http")), "HTTP/1.1 200 OK");
    smtp_auth_fails(&server);
    imap_login_fails(&server);
    // Two failures: still welcome.
    let c = Imap::connect(server.addr("imap"));
    assert!(c.greeting.starts_with("* OK"), "{}", c.greeting);
    drop(c);
    let r = pop3_pass(&server, "wrong");
    assert!(r.starts_with("-ERR"), "{r}");

    assert_banned_everywhere(&server);
    let (ok, list) = server.console("screen list");
    assert!(ok, "{list}");
    assert!(list.contains("banned (1):\n  127.0.0.1  until"), "{list}");
    assert!(list.contains("3 failed logins in 600s"), "{list}");

    // The ban is stored: a restart keeps it.
    server.restart();
    assert_banned_everywhere(&server);

    let (ok, out) = server.console("screen unban 127.0.0.1");
    assert!(ok && out == "ban of 127.0.0.1 lifted", "{out}");
    let c = Imap::login(server.addr("imap"), "bob@example.com");
    drop(c);
    assert!(pop3_pass(&server, PASSWORD).starts_with("+OK"));
    assert_eq!(http_status(server.addr("http")), "HTTP/1.1 200 OK");
    let smtp = Client::connect(server.addr("smtp"));
    assert!(smtp.greeting.starts_with("220"), "{}", smtp.greeting);

    // A manual ban, and its lift, work the same way.
    let (ok, out) = server.console("screen ban 127.0.0.1 --for 1h");
    assert!(ok && out.contains("(3600s)"), "{out}");
    assert_banned_everywhere(&server);
    let (ok, _) = server.console("screen unban 127.0.0.1");
    assert!(ok);
    assert_eq!(http_status(server.addr("http")), "HTTP/1.1 200 OK");
}

#[test]
fn harvesting_recipients_and_auth_on_the_smtp_port_ban() {
    let server = start(SCREENING);
    let mut c = Client::connect(server.addr("smtp"));
    assert!(c.cmd("EHLO client.example.net").starts_with("250"));
    assert!(c.cmd("MAIL FROM:<x@example.net>").starts_with("250"));
    for i in 0..3 {
        let r = c.cmd(&format!("RCPT TO:<nobody{i}@example.com>"));
        assert!(r.starts_with("550"), "{r}");
    }
    drop(c);
    let r = refusal(server.addr("smtp"));
    assert!(r.starts_with("421 4.7.0 "), "{r:?}");
    assert!(server.console("screen unban 127.0.0.1").0);

    // AUTH is not offered on the smtp port: trying it twice is a probe.
    let mut c = Client::connect(server.addr("smtp"));
    assert!(c.cmd("EHLO client.example.net").starts_with("250"));
    for _ in 0..2 {
        let r = c.auth_plain("bob@example.com", "guess");
        assert!(r.starts_with("503"), "{r}");
    }
    drop(c);
    let r = refusal(server.addr("imap"));
    assert!(r.starts_with("* BYE "), "{r:?}");
    let (_, list) = server.console("screen list");
    assert!(list.contains("2 AUTH where not offered in 600s"), "{list}");
}

#[test]
fn a_trusted_address_is_never_banned() {
    let server = start(
        "[auth]\nverify = false\n[screening]\ntrusted = [\"127.0.0.1\"]\nauth_failures = 2\n",
    );
    for _ in 0..3 {
        smtp_auth_fails(&server);
        imap_login_fails(&server);
        assert!(pop3_pass(&server, "wrong").starts_with("-ERR"));
    }
    let c = Imap::login(server.addr("imap"), "bob@example.com");
    drop(c);
    assert_eq!(http_status(server.addr("http")), "HTTP/1.1 200 OK");
    let (ok, out) = server.console("screen ban 127.0.0.1");
    assert!(!ok && out.contains("trusted network"), "{out}");
    let (ok, out) = server.console("screen list");
    assert!(ok && out.contains("banned (0):"), "{out}");
}

/// `ferrymail screen … --config F` goes through the console socket while the server runs,
/// and works on the stored state when it does not; the server starts from that state.
#[test]
fn cli_screen_commands_with_and_without_a_server() {
    let mut server = start(SCREENING);
    let config = server.config_path();
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ferrymail"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .expect("run ferrymail");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    let (ok, out) = cli(&["screen", "deny", "192.0.2.0/24"]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&["screen", "list"]);
    assert!(ok && out.contains("denied: 192.0.2.0/24"), "{out}");

    if let Some(h) = server.handle.take() {
        h.stop();
    }
    let (ok, out) = cli(&["screen", "list"]);
    assert!(ok && out.contains("denied: 192.0.2.0/24"), "{out}");
    let (ok, out) = cli(&["screen", "ban", "127.0.0.1", "--for", "2h"]);
    assert!(ok && out.contains("(7200s)"), "{out}");
    let (ok, out) = cli(&["screen", "unban", "192.0.2.0/24"]);
    assert!(
        ok && out.contains("deny rule 192.0.2.0/24 removed"),
        "{out}"
    );

    server.boot();
    assert_banned_everywhere(&server);
    let (_, list) = server.console("screen list");
    assert!(list.contains("denied: none"), "{list}");
    assert!(list.contains("by the administrator"), "{list}");
}
