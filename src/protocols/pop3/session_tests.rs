//! Session tests: whole conversations against the in-memory backend, each input also fed
//! split at every byte (the output must not change).

use super::*;
use crate::protocols::pop3::fuzz::{MemBackend, SAMPLE_MESSAGES, UIDVALIDITY, USER};

const PASSWORD: &str = "secret";

struct Run {
    out: String,
    closed: bool,
    backend: MemBackend,
    tls_started: u32,
}

fn config(allow_plaintext: bool) -> SessionConfig {
    SessionConfig {
        hostname: "pop.example.com".into(),
        starttls_available: true,
        allow_plaintext,
    }
}

/// Feeds `chunks` one after the other; answers password checks by comparing with
/// [`PASSWORD`].
fn run_chunks(cfg: SessionConfig, tls: bool, backend: MemBackend, chunks: &[&[u8]]) -> Run {
    let mut s = Session::new(cfg, tls);
    let mut r = Run {
        out: String::new(),
        closed: false,
        backend,
        tls_started: 0,
    };
    let mut pending: Vec<Action> = Vec::new();
    for chunk in chunks {
        pending.extend(s.receive(chunk, &mut r.backend));
        while !pending.is_empty() {
            let action = pending.remove(0);
            assert!(!r.closed, "action after close: {action:?}");
            let more = match action {
                Action::Send(b) => {
                    r.out.push_str(&String::from_utf8_lossy(&b));
                    Vec::new()
                }
                Action::Close => {
                    r.closed = true;
                    Vec::new()
                }
                Action::StartTls => {
                    r.tls_started += 1;
                    s.tls_established(&mut r.backend)
                }
                Action::Authenticate { login, password } => {
                    let answer = if login == USER && password.0 == PASSWORD {
                        AuthAnswer::Account(login)
                    } else if login == "down@fuzz.test" {
                        AuthAnswer::Unavailable
                    } else {
                        AuthAnswer::Rejected
                    };
                    s.resume_auth(answer, &mut r.backend)
                }
            };
            let mut rest = more;
            rest.append(&mut pending);
            pending = rest;
        }
    }
    r
}

/// Runs `input` whole, then split at every byte, and checks the output is the same.
fn run_with(cfg: SessionConfig, tls: bool, backend: fn() -> MemBackend, input: &str) -> Run {
    let whole = run_chunks(cfg.clone(), tls, backend(), &[input.as_bytes()]);
    let bytes = input.as_bytes();
    for split in 1..bytes.len() {
        let parts = run_chunks(
            cfg.clone(),
            tls,
            backend(),
            &[&bytes[..split], &bytes[split..]],
        );
        assert_eq!(parts.out, whole.out, "split at {split}");
    }
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    let one_by_one = run_chunks(cfg, tls, backend(), &singles);
    assert_eq!(one_by_one.out, whole.out, "byte by byte");
    whole
}

fn run(input: &str) -> Run {
    run_with(config(true), false, MemBackend::new, input)
}

const LOGIN: &str = "USER alice@fuzz.test\r\nPASS secret\r\n";

fn logged_in(rest: &str) -> String {
    let r = run(&format!("{LOGIN}{rest}"));
    let out = r.out;
    let prefix = "+OK Send the password with PASS\r\n+OK Logged in, maildrop has 4 messages (";
    assert!(out.starts_with(prefix), "{out}");
    out.split_once("octets)\r\n").unwrap().1.to_string()
}

fn sizes() -> Vec<u64> {
    SAMPLE_MESSAGES
        .iter()
        .map(|(_, m)| crate::protocols::pop3::message::wire_size(m))
        .collect()
}

#[test]
fn capa_before_and_after_login() {
    let r = run("CAPA\r\n");
    assert_eq!(
        r.out,
        "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n\
         PIPELINING\r\nEXPIRE NEVER\r\nLOGIN-DELAY 0\r\nUSER\r\nSASL PLAIN LOGIN\r\nSTLS\r\n\
         UTF8 USER\r\nIMPLEMENTATION Ferrymail\r\n.\r\n"
    );
    let out = logged_in("CAPA\r\n");
    assert_eq!(
        out,
        "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n\
         PIPELINING\r\nEXPIRE NEVER\r\nLOGIN-DELAY 0\r\nIMPLEMENTATION Ferrymail\r\n.\r\n"
    );
    // Without TLS and without plaintext: no USER, no SASL, but STLS.
    let r = run_with(config(false), false, MemBackend::new, "CAPA\r\n");
    assert!(!r.out.contains("\nUSER\r\n") && !r.out.contains("SASL"));
    assert!(r.out.contains("STLS\r\n"));
    // After TLS: no STLS.
    let r = run_with(config(false), true, MemBackend::new, "CAPA\r\n");
    assert!(r.out.contains("\nUSER\r\n") && !r.out.contains("STLS"));
}

#[test]
fn stat_list_uidl_follow_the_snapshot() {
    let s = sizes();
    let total: u64 = s.iter().sum();
    let out = logged_in("STAT\r\nLIST\r\nLIST 2\r\nUIDL\r\nUIDL 4\r\nLIST 5\r\nLIST 0\r\n");
    let uidl = |uid: u32| uidl(UIDVALIDITY, uid);
    assert_eq!(
        out,
        format!(
            "+OK 4 {total}\r\n+OK 4 messages ({total} octets)\r\n1 {}\r\n2 {}\r\n3 {}\r\n4 {}\r\n.\r\n\
             +OK 2 {}\r\n+OK Unique-ID listing follows\r\n1 {}\r\n2 {}\r\n3 {}\r\n4 {}\r\n.\r\n\
             +OK 4 {}\r\n-ERR No such message: 5\r\n-ERR No such message: 0\r\n",
            s[0],
            s[1],
            s[2],
            s[3],
            s[1],
            uidl(3),
            uidl(7),
            uidl(8),
            uidl(12),
            uidl(12)
        )
    );
    assert_eq!(uidl(3), "000000036553F100");
}

#[test]
fn retr_and_top_send_the_wire_form() {
    let s = sizes();
    let out = logged_in("RETR 1\r\nTOP 1 1\r\nRETR 2\r\nTOP 4 3\r\nRETR 3\r\n");
    assert_eq!(
        out,
        format!(
            "+OK {} octets\r\nFrom: Bob <bob@fuzz.test>\r\nTo: alice@fuzz.test\r\nSubject: one\r\n\r\n\
             Hello.\r\n..dot line\r\nBye.\r\n.\r\n\
             +OK Top of message follows\r\nFrom: Bob <bob@fuzz.test>\r\nTo: alice@fuzz.test\r\n\
             Subject: one\r\n\r\nHello.\r\n.\r\n\
             +OK {} octets\r\nSubject: bare LFs\r\n\r\nline one\r\nline two\r\n.\r\n\
             +OK Top of message follows\r\nSubject: header only\r\n.\r\n\
             +OK {} octets\r\nSubject: caf\u{e9}\r\n\r\n\u{20ac} no final line end\r\n.\r\n",
            s[0], s[1], s[2]
        )
    );
}

#[test]
fn dele_rset_and_quit_update() {
    let r = run(&format!(
        "{LOGIN}RETR 1\r\nDELE 2\r\nDELE 2\r\nRETR 2\r\nLIST 2\r\nSTAT\r\nRSET\r\nRETR 3\r\nDELE 1\r\nQUIT\r\nNOOP\r\n"
    ));
    let s = sizes();
    assert!(r.out.contains("+OK Message 2 deleted\r\n-ERR Message 2 is already deleted\r\n-ERR Message 2 is already deleted\r\n-ERR Message 2 is already deleted\r\n"), "{}", r.out);
    assert!(
        r.out.contains(&format!("+OK 3 {}\r\n", s[0] + s[2] + s[3])),
        "{}",
        r.out
    );
    assert!(r.out.contains(&format!(
        "+OK Maildrop has 4 messages ({} octets)\r\n",
        s.iter().sum::<u64>()
    )));
    assert!(r.out.ends_with(
        "+OK Message 1 deleted\r\n+OK pop.example.com Ferrymail POP3 signing off (1 deleted, 3 left)\r\n"
    ));
    assert!(r.closed);
    // RSET forgot that 1 was retrieved; 1 is deleted, so only 3 (uid 8) is flagged seen.
    assert_eq!(
        r.backend.commits,
        vec![Update {
            deleted: vec![3],
            seen: vec![8],
        }]
    );
    assert!(!r.backend.locked, "the lock is released at QUIT");
}

#[test]
fn a_lost_connection_changes_nothing() {
    let r = run(&format!("{LOGIN}DELE 1\r\nRETR 2\r\n"));
    assert!(r.backend.commits.is_empty());
    assert!(r.backend.locked, "held until the shell drops the backend");
}

#[test]
fn quit_before_login() {
    let r = run("QUIT\r\nUSER x\r\n");
    assert_eq!(r.out, "+OK pop.example.com Ferrymail POP3 signing off\r\n");
    assert!(r.closed);
}

#[test]
fn commands_in_the_wrong_state() {
    let r =
        run("STAT\r\nLIST\r\nRETR 1\r\nDELE 1\r\nNOOP\r\nRSET\r\nTOP 1 1\r\nUIDL\r\nPASS x\r\n");
    let expected: String = [
        "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL",
    ]
    .iter()
    .map(|c| format!("-ERR {c} is only valid after login\r\n"))
    .collect::<String>()
        + "-ERR Send USER first\r\n";
    assert_eq!(r.out, expected);
    let out = logged_in("USER x\r\nPASS y\r\nAUTH PLAIN\r\nSTLS\r\nUTF8\r\nNOOP\r\n");
    assert_eq!(
        out,
        "-ERR USER is only valid before login\r\n-ERR PASS is only valid before login\r\n\
         -ERR AUTH is only valid before login\r\n-ERR STLS is only valid before login\r\n\
         -ERR UTF8 is only valid before login\r\n+OK Nothing happens\r\n"
    );
}

#[test]
fn bad_commands_keep_the_session() {
    let long = "X".repeat(300);
    let r = run(&format!(
        "FOO\r\n\r\nRETR\r\n{long}\r\nUSER a b\r\nCAPA\r\n"
    ));
    assert!(r.out.starts_with(
        "-ERR Unknown command: FOO\r\n-ERR Empty command line\r\n\
         -ERR RETR takes one argument: a message number\r\n\
         -ERR Command line too long (255 octets at most)\r\n\
         -ERR USER takes one argument: a user name\r\n+OK Capability list follows\r\n"
    ));
    assert!(!r.closed);
    // A line longer than the framer's bound is dropped without being buffered.
    let huge = "Y".repeat(20_000);
    let r = run_chunks(
        config(true),
        false,
        MemBackend::new(),
        &[huge.as_bytes(), b"\r\nNOOP\r\n"],
    );
    assert_eq!(
        r.out,
        "-ERR Command line too long (255 octets at most)\r\n-ERR NOOP is only valid after login\r\n"
    );
}

#[test]
fn three_failed_logins_close() {
    let r = run("USER alice@fuzz.test\r\nPASS a\r\nUSER alice@fuzz.test\r\nPASS b\r\nUSER alice@fuzz.test\r\nPASS c\r\nUSER alice@fuzz.test\r\nPASS secret\r\n");
    assert_eq!(
        r.out,
        "+OK Send the password with PASS\r\n-ERR [AUTH] Invalid login or password\r\n\
         +OK Send the password with PASS\r\n-ERR [AUTH] Invalid login or password\r\n\
         +OK Send the password with PASS\r\n\
         -ERR [AUTH] Invalid login or password; too many failures, closing\r\n"
    );
    assert!(r.closed);
}

#[test]
fn unavailable_check_and_failures_of_the_backend() {
    let r = run("USER down@fuzz.test\r\nPASS x\r\n");
    assert!(r
        .out
        .ends_with("-ERR [SYS/TEMP] Cannot check the password now; try again later\r\n"));
    let in_use = || {
        let mut b = MemBackend::new();
        b.locked_elsewhere = true;
        b
    };
    let r = run_with(config(true), false, in_use, LOGIN);
    assert!(
        r.out
            .ends_with("-ERR [IN-USE] Maildrop is locked by another session\r\n"),
        "{}",
        r.out
    );
    assert!(!r.closed, "the client may try again");
    let failing = || {
        let mut b = MemBackend::new();
        b.failing = true;
        b
    };
    let r = run_with(config(true), false, failing, LOGIN);
    assert!(
        r.out.ends_with("-ERR [SYS/TEMP] storage error\r\n"),
        "{}",
        r.out
    );
    let gone = || {
        let mut b = MemBackend::new();
        b.gone.push(7);
        b
    };
    let r = run_with(
        config(true),
        false,
        gone,
        &format!("{LOGIN}RETR 2\r\nTOP 2 0\r\n"),
    );
    assert!(r.out.ends_with(
        "-ERR Message 2 was removed by another client\r\n-ERR Message 2 was removed by another client\r\n"
    ));
}

#[test]
fn plaintext_refused_without_tls() {
    let r = run_with(
        config(false),
        false,
        MemBackend::new,
        "USER alice@fuzz.test\r\nPASS secret\r\nAUTH PLAIN\r\nAUTH\r\n",
    );
    let refused =
        "-ERR [AUTH] Plaintext authentication is disabled: use STLS first (or port 995)\r\n";
    assert_eq!(
        r.out,
        format!("{refused}{refused}{refused}+OK Mechanisms follow\r\nPLAIN\r\nLOGIN\r\n.\r\n")
    );
}

#[test]
fn stls_discards_pipelined_input_then_allows_login() {
    let r = run_chunks(
        config(false),
        false,
        MemBackend::new(),
        &[b"STLS\r\nUSER injected\r\n", LOGIN.as_bytes(), b"STLS\r\n"],
    );
    assert_eq!(r.tls_started, 1);
    assert_eq!(
        r.out,
        "+OK Begin TLS negotiation\r\n+OK Send the password with PASS\r\n\
         +OK Logged in, maildrop has 4 messages ("
            .to_string()
            + &sizes().iter().sum::<u64>().to_string()
            + " octets)\r\n-ERR STLS is only valid before login\r\n"
    );
    let r = run_with(config(true), true, MemBackend::new, "STLS\r\n");
    assert_eq!(r.out, "-ERR TLS is already active\r\n");
    let no_cert = SessionConfig {
        starttls_available: false,
        ..config(true)
    };
    let r = run_with(no_cert, false, MemBackend::new, "STLS\r\n");
    assert_eq!(r.out, "-ERR STLS is not available\r\n");
}

fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn sasl_plain_and_login() {
    let good = b64(b"\0alice@fuzz.test\0secret");
    let r = run(&format!("AUTH PLAIN {good}\r\nSTAT\r\n"));
    assert!(r.out.starts_with("+OK Logged in"), "{}", r.out);
    let r = run(&format!("AUTH PLAIN\r\n{good}\r\n"));
    assert!(r.out.starts_with("+ \r\n+OK Logged in"), "{}", r.out);
    let r = run(&format!(
        "AUTH LOGIN\r\n{}\r\n{}\r\n",
        b64(b"alice@fuzz.test"),
        b64(b"secret")
    ));
    assert!(
        r.out
            .starts_with("+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n+OK Logged in"),
        "{}",
        r.out
    );
    let r = run(&format!(
        "AUTH LOGIN {}\r\n{}\r\n",
        b64(b"alice@fuzz.test"),
        b64(b"secret")
    ));
    assert!(
        r.out.starts_with("+ UGFzc3dvcmQ6\r\n+OK Logged in"),
        "{}",
        r.out
    );
    let r = run(&format!(
        "AUTH PLAIN {}\r\n",
        b64(b"alice@fuzz.test\0alice@fuzz.test\0secret")
    ));
    assert!(r.out.starts_with("+OK Logged in"), "{}", r.out);
}

#[test]
fn sasl_errors() {
    let r = run(&format!(
        "AUTH PLAIN\r\n*\r\nAUTH LOGIN\r\n*\r\nAUTH PLAIN !!\r\nAUTH PLAIN =\r\nAUTH PLAIN {}\r\nAUTH CRAM-MD5\r\nAUTH PLAIN {}\r\nNOOP\r\n",
        b64(b"only\0two"),
        b64(b"bob\0alice@fuzz.test\0secret"),
    ));
    assert_eq!(
        r.out,
        "+ \r\n-ERR Authentication cancelled\r\n+ VXNlcm5hbWU6\r\n-ERR Authentication cancelled\r\n\
         -ERR Invalid base64 in authentication response\r\n-ERR Malformed PLAIN response\r\n\
         -ERR Malformed PLAIN response\r\n-ERR Unsupported mechanism CRAM-MD5\r\n\
         -ERR [AUTH] Cannot act as another user\r\n-ERR NOOP is only valid after login\r\n"
    );
    let r = run(&format!(
        "AUTH PLAIN {}\r\n",
        b64(b"\0alice@fuzz.test\0wrong")
    ));
    assert_eq!(r.out, "-ERR [AUTH] Invalid login or password\r\n");
}

#[test]
fn utf8_user_names() {
    let r = run("UTF8\r\nUSER jos\u{e9}@fuzz.test\r\nPASS x\r\n");
    assert_eq!(
        r.out,
        "+OK UTF8 enabled\r\n+OK Send the password with PASS\r\n-ERR [AUTH] Invalid login or password\r\n"
    );
}

#[test]
fn pipelined_batch_is_answered_in_order() {
    let r = run(&format!(
        "CAPA\r\n{LOGIN}STAT\r\nUIDL 1\r\nDELE 1\r\nQUIT\r\n"
    ));
    let kinds: Vec<&str> = r
        .out
        .lines()
        .filter(|l| l.starts_with('+') || l.starts_with('-'))
        .collect();
    assert_eq!(kinds.len(), 7, "{}", r.out);
    assert!(r.closed);
    assert_eq!(r.backend.commits[0].deleted, vec![3]);
}

#[test]
fn timeout_and_shutdown_close_without_update() {
    let mut s = Session::new(config(true), false);
    let mut b = MemBackend::new();
    let _ = s.receive(b"USER alice@fuzz.test\r\nPASS secret\r\nDELE 1\r\n", &mut b);
    let _ = s.resume_auth(AuthAnswer::Account(USER.into()), &mut b);
    assert!(s.is_authenticated());
    let a = s.timeout(&mut b);
    assert_eq!(
        a,
        vec![
            Action::Send(b"-ERR Autologout: idle for too long\r\n".to_vec()),
            Action::Close
        ]
    );
    assert!(b.commits.is_empty() && !b.locked);
    assert!(s.receive(b"QUIT\r\n", &mut b).is_empty());
    let mut s = Session::new(config(true), false);
    let a = s.shutdown(&mut b);
    assert_eq!(
        a[0],
        Action::Send(b"-ERR [SYS/TEMP] Server shutting down\r\n".to_vec())
    );
}

/// A password check action can be logged with `{:?}` without showing the password.
#[test]
fn authenticate_action_debug_hides_the_password() {
    let mut s = Session::new(config(true), false);
    let mut b = MemBackend::new();
    s.greeting();
    let mut acts = s.receive(b"USER bob@x\r\n", &mut b);
    acts.extend(s.receive(b"PASS hunter2secret\r\n", &mut b));
    let shown = format!("{acts:?}");
    assert!(shown.contains("Authenticate"), "{shown}");
    assert!(!shown.contains("hunter2secret"), "{shown}");
}
