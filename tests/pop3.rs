//! POP3 end to end over real sockets (issue 4): the one-session-per-maildrop lock, UIDLs
//! stable across a restart, DELE+QUIT seen by an IMAP session as EXPUNGE (and nothing else
//! expunged), RSET undoing marks, SMTP in → POP3 RETR byte-identical to IMAP's BODY[],
//! plaintext logins refused without TLS when the config says so, the autologout timer, and
//! shutdown closing sessions without UPDATE.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{message, ok, Client, Imap, TestServer, PASSWORD};

const BOB: &str = "bob@example.com";

/// A minimal blocking POP3 client: single-line and multi-line responses.
struct Pop3 {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    greeting: String,
}

impl Pop3 {
    fn connect(addr: SocketAddr) -> Pop3 {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        let mut c = Pop3 {
            stream,
            reader,
            greeting: String::new(),
        };
        c.greeting = c.line();
        c
    }

    /// Connects and logs in as `user`; panics unless the login succeeds.
    fn login(addr: SocketAddr, user: &str) -> Pop3 {
        let mut c = Pop3::connect(addr);
        let r = c.try_login(user);
        assert!(r.starts_with("+OK Logged in"), "{r}");
        c
    }

    /// USER + PASS; the answer to PASS.
    fn try_login(&mut self, user: &str) -> String {
        let r = self.cmd(&format!("USER {user}"));
        assert!(r.starts_with("+OK"), "{r}");
        self.cmd(&format!("PASS {PASSWORD}"))
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        let _ = self.reader.read_line(&mut l);
        l.trim_end_matches(['\r', '\n']).to_string()
    }

    fn cmd(&mut self, line: &str) -> String {
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("write");
        self.line()
    }

    /// A multi-line command: the status line and the data, un-stuffed, lines ending in CRLF.
    fn multi(&mut self, line: &str) -> (String, Vec<u8>) {
        let status = self.cmd(line);
        assert!(status.starts_with("+OK"), "{line}: {status}");
        let mut data = Vec::new();
        loop {
            let mut l = Vec::new();
            let n = self.reader.read_until(b'\n', &mut l).expect("read");
            assert!(n > 0, "connection closed inside a multi-line response");
            if l == b".\r\n" {
                return (status, data);
            }
            data.extend_from_slice(l.strip_prefix(b".").unwrap_or(&l));
        }
    }

    /// UIDL's listing: (message number, unique-id).
    fn uidl(&mut self) -> Vec<(u32, String)> {
        let (_, data) = self.multi("UIDL");
        String::from_utf8(data)
            .unwrap()
            .lines()
            .map(|l| {
                let (n, id) = l.split_once(' ').unwrap();
                (n.parse().unwrap(), id.to_string())
            })
            .collect()
    }

    fn quit(&mut self) -> String {
        let r = self.cmd("QUIT");
        let mut rest = String::new();
        let _ = self.reader.read_to_string(&mut rest);
        assert_eq!(rest, "", "nothing after QUIT's answer");
        r
    }
}

/// Delivers `n` test messages to bob over SMTP and waits until they are stored.
fn deliver(server: &TestServer, n: usize) {
    let mut smtp = Client::connect(server.addr("smtp"));
    for i in 0..n {
        let r = smtp.deliver("a@example.net", &[BOB], &message(&format!("pop{i}")));
        assert!(r.starts_with("250"), "{r}");
    }
    assert_eq!(server.wait_inbox(BOB, n).len(), n);
}

/// Logs in, retrying (bounded) while the maildrop is still locked by a session the server
/// has not yet seen end.
fn login_when_free(addr: SocketAddr, user: &str) -> Pop3 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = Pop3::connect(addr);
        let r = c.try_login(user);
        if r.starts_with("+OK Logged in") {
            return c;
        }
        assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
        assert!(Instant::now() < deadline, "the maildrop stays locked");
        c.quit();
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_second_login_gets_in_use_until_the_first_session_ends() {
    let server = TestServer::start();
    deliver(&server, 1);
    let addr = server.addr("pop3");
    let mut first = Pop3::login(addr, BOB);
    let mut second = Pop3::connect(addr);
    assert_eq!(
        second.try_login(BOB),
        "-ERR [IN-USE] Maildrop is in use by another POP3 session"
    );
    // Another account is not affected.
    let mut alice = Pop3::login(addr, "alice@example.com");
    assert!(alice.quit().starts_with("+OK"));
    // QUIT frees the maildrop: the refused session may try again.
    assert!(first.quit().starts_with("+OK"));
    assert!(second.try_login(BOB).starts_with("+OK Logged in"));
    // So does a connection that just goes away, without QUIT.
    drop(second);
    let mut third = login_when_free(addr, BOB);
    assert_eq!(
        third.cmd("STAT"),
        format!("+OK 1 {}", server.inbox(BOB)[0].len())
    );
    assert!(third.quit().starts_with("+OK"));
}

#[test]
fn uidls_are_stable_across_sessions_and_a_restart() {
    let mut server = TestServer::start();
    deliver(&server, 3);
    let mut c = Pop3::login(server.addr("pop3"), BOB);
    let before = c.uidl();
    assert_eq!(before.len(), 3);
    let ids: std::collections::HashSet<&String> = before.iter().map(|(_, id)| id).collect();
    assert_eq!(ids.len(), 3, "unique: {before:?}");
    for (_, id) in &before {
        assert!(
            id.len() <= 70 && id.bytes().all(|b| (0x21..=0x7e).contains(&b)),
            "RFC 1939 §7 unique-id: {id}"
        );
    }
    assert!(c.cmd("DELE 1").starts_with("+OK"));
    assert!(c.quit().starts_with("+OK"));

    server.restart();
    let mut c = Pop3::login(server.addr("pop3"), BOB);
    let after = c.uidl();
    assert_eq!(
        after,
        vec![(1, before[1].1.clone()), (2, before[2].1.clone())]
    );
    assert_eq!(c.cmd("UIDL 2"), format!("+OK 2 {}", before[2].1));
    assert!(c.quit().starts_with("+OK"));
}

#[test]
fn dele_and_quit_expunge_only_the_marked_messages_and_imap_sees_it() {
    let server = TestServer::start();
    deliver(&server, 3);
    let mut imap = Imap::login(server.addr("imap"), BOB);
    assert!(ok(&imap.cmd("SELECT INBOX")));
    // An IMAP client flags message 3 \Deleted; POP3 must not expunge it.
    assert!(ok(&imap.cmd("STORE 3 +FLAGS (\\Deleted)")));
    let tag = imap.bump();
    imap.send_raw(format!("{tag} IDLE\r\n").as_bytes());
    assert_eq!(imap.read_line(), "+ idling");

    let mut pop = Pop3::login(server.addr("pop3"), BOB);
    assert!(pop.multi("RETR 2").0.starts_with("+OK"));
    assert_eq!(pop.cmd("DELE 1"), "+OK Message 1 deleted");
    // Nothing changes before QUIT.
    assert_eq!(server.inbox(BOB).len(), 3);
    assert_eq!(
        pop.quit(),
        "+OK mx.example.com Ferrymail POP3 signing off (1 deleted, 2 left)"
    );
    assert_eq!(server.inbox(BOB).len(), 2, "acknowledged means done");

    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lines.iter().any(|l: &String| l == "* 1 EXPUNGE") && Instant::now() < deadline {
        let l = imap.read_line();
        assert!(!l.is_empty(), "IMAP connection closed; got {lines:?}");
        lines.push(l);
    }
    assert!(lines.contains(&"* 1 EXPUNGE".to_string()), "{lines:?}");
    imap.send_raw(b"DONE\r\n");
    assert!(ok(&imap.until_tagged(&tag)));
    // Message 2 (now 1) was retrieved: \Seen. Message 3 (now 2) keeps its \Deleted.
    let r = imap.cmd("FETCH 1:* (FLAGS)");
    assert!(ok(&r), "{r:?}");
    assert!(
        r.iter().any(|l| l.starts_with("* 1 FETCH (FLAGS (\\Seen")),
        "{r:?}"
    );
    assert!(
        r.iter()
            .any(|l| l.starts_with("* 2 FETCH (FLAGS (\\Deleted")),
        "{r:?}"
    );
    assert!(ok(&imap.cmd("LOGOUT")));
}

#[test]
fn rset_undoes_the_marks() {
    let server = TestServer::start();
    deliver(&server, 2);
    let mut pop = Pop3::login(server.addr("pop3"), BOB);
    assert!(pop.cmd("DELE 1").starts_with("+OK"));
    assert!(pop.cmd("DELE 2").starts_with("+OK"));
    assert_eq!(pop.cmd("STAT"), "+OK 0 0");
    assert!(pop.cmd("RSET").starts_with("+OK Maildrop has 2 messages"));
    assert!(pop.multi("RETR 1").0.starts_with("+OK"));
    assert!(pop.cmd("RSET").starts_with("+OK"));
    assert_eq!(
        pop.quit(),
        "+OK mx.example.com Ferrymail POP3 signing off (0 deleted, 2 left)"
    );
    assert_eq!(server.inbox(BOB).len(), 2);
    let store = server.store();
    let inbox = store.folder_id(BOB, "INBOX").unwrap().unwrap();
    for m in store.list_messages(inbox).unwrap() {
        assert_eq!(m.flags.system, 0, "RSET also forgets RETR: no \\Seen");
    }
}

#[test]
fn smtp_in_pop3_retr_is_byte_identical_to_imap_body() {
    let server = TestServer::start();
    let text = "From: Sender <sender@example.net>\r\nTo: bob@example.com\r\nSubject: bytes\r\n\
                MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                .starts with a dot\r\n..two dots\r\n.\r\ncaf\u{e9}\r\nend\r\n";
    let mut smtp = Client::connect(server.addr("smtp"));
    assert!(smtp
        .deliver("a@example.net", &[BOB], text)
        .starts_with("250"));
    let stored = server.wait_inbox(BOB, 1).remove(0);

    let mut pop = Pop3::login(server.addr("pop3"), BOB);
    let (status, retr) = pop.multi("RETR 1");
    assert_eq!(status, format!("+OK {} octets", stored.len()));
    assert_eq!(pop.cmd("LIST 1"), format!("+OK 1 {}", stored.len()));
    assert!(pop.quit().starts_with("+OK"));
    assert_eq!(retr, stored);
    assert!(common::without_trace(&retr).ends_with(text.as_bytes()));

    let mut imap = Imap::login(server.addr("imap"), BOB);
    assert!(ok(&imap.cmd("EXAMINE INBOX")));
    let r = imap.cmd("FETCH 1 BODY.PEEK[]");
    assert!(ok(&r), "{r:?}");
    let first = &r[0];
    let start = first.find("}\r\n").expect("literal") + 3;
    let body = &first.as_bytes()[start..first.len() - 1];
    assert_eq!(body, &retr[..], "POP3 RETR and IMAP BODY[] differ");
}

#[test]
fn plaintext_login_is_refused_without_tls_unless_allowed() {
    let mut server = TestServer::start();
    server.config.pop3.allow_plaintext_login = false;
    server.restart();
    let mut c = Pop3::connect(server.addr("pop3"));
    let refused = "-ERR [AUTH] Plaintext authentication is disabled: use STLS first (or port 995)";
    assert_eq!(c.cmd("USER bob@example.com"), refused);
    assert_eq!(c.cmd("PASS x"), refused);
    assert_eq!(c.cmd("AUTH PLAIN AGJvYgB4"), refused);
    let (_, caps) = c.multi("CAPA");
    let caps = String::from_utf8(caps).unwrap();
    assert!(
        caps.contains("STLS\r\n") && !caps.contains("SASL"),
        "{caps}"
    );
    assert_eq!(c.cmd("STLS"), "+OK Begin TLS negotiation");
}

#[test]
fn failed_logins_reach_the_auth_failure_log_and_close_after_three() {
    let server = TestServer::start();
    let mut c = Pop3::connect(server.addr("pop3"));
    for i in 0..3 {
        assert!(c.cmd("USER bob@example.com").starts_with("+OK"));
        let r = c.cmd(&format!("PASS wrong{i}"));
        assert!(
            r.starts_with("-ERR [AUTH] Invalid login or password"),
            "{r}"
        );
    }
    assert_eq!(c.line(), "", "closed after the third failure");
    let log = std::fs::read_to_string(server.data_dir().join("logs/auth-failures.log")).unwrap();
    let pop3_lines = log
        .lines()
        .filter(|l| l.contains("protocol=pop3") && l.contains("login=\"bob@example.com\""))
        .count();
    assert_eq!(pop3_lines, 3, "{log}");
    assert!(!log.contains("wrong"), "no password in the log");
}

#[test]
fn a_silent_client_is_logged_out_after_login_timeout() {
    let mut server = TestServer::start();
    deliver(&server, 1);
    server.config.pop3.login_timeout = Duration::from_secs(1);
    server.restart();
    let mut c = Pop3::connect(server.addr("pop3"));
    let started = Instant::now();
    assert_eq!(c.line(), "-ERR Autologout: idle for too long");
    assert_eq!(c.line(), "", "closed");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
}

#[test]
fn shutdown_closes_sessions_without_update() {
    let mut server = TestServer::start();
    deliver(&server, 2);
    let mut c = Pop3::login(server.addr("pop3"), BOB);
    assert!(c.cmd("DELE 1").starts_with("+OK"));
    server.restart();
    assert_eq!(c.line(), "-ERR [SYS/TEMP] Server shutting down");
    assert_eq!(c.line(), "", "closed");
    assert_eq!(server.inbox(BOB).len(), 2, "no UPDATE without QUIT");
    let mut c = Pop3::login(server.addr("pop3"), BOB);
    assert_eq!(c.cmd("STAT").split(' ').nth(1), Some("2"));
    assert!(c.quit().starts_with("+OK"));
}

/// UPDATE is one transaction (issue 10): a failure between marking the retrieved message
/// \Seen and expunging the deleted one leaves both undone, and QUIT says so.
#[test]
fn a_failed_update_changes_nothing() {
    let server = TestServer::start();
    deliver(&server, 3);
    server.handle().ctx.faults.arm("folder.maildrop.between", 1);
    let mut pop = Pop3::login(server.addr("pop3"), BOB);
    assert!(pop.multi("RETR 2").0.starts_with("+OK"));
    assert_eq!(pop.cmd("DELE 1"), "+OK Message 1 deleted");
    let r = pop.quit();
    assert!(
        r.starts_with("-ERR") && r.contains("nothing deleted or marked seen"),
        "{r}"
    );
    assert_eq!(server.inbox(BOB).len(), 3, "the deletion was undone");
    let mut imap = Imap::login(server.addr("imap"), BOB);
    assert!(ok(&imap.cmd("SELECT INBOX")));
    let r = imap.cmd("FETCH 1:* (FLAGS)");
    assert!(ok(&r), "{r:?}");
    assert!(!r.iter().any(|l| l.contains("\\Seen")), "half done: {r:?}");
    assert!(ok(&imap.cmd("LOGOUT")));

    // The hook fired once: the same UPDATE now goes through whole.
    let mut pop = login_when_free(server.addr("pop3"), BOB);
    assert!(pop.multi("RETR 2").0.starts_with("+OK"));
    assert_eq!(pop.cmd("DELE 1"), "+OK Message 1 deleted");
    assert!(pop.quit().starts_with("+OK"), "second QUIT");
    assert_eq!(server.inbox(BOB).len(), 2);
}
