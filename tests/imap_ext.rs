//! IMAP extensions end to end, with real clients where one exists: COMPRESS=DEFLATE (RFC
//! 4978) through Python's imaplib over zlib raw-deflate streams and through isync's mbsync
//! (1.4 turns COMPRESS on by itself whenever the server offers it), UNAUTHENTICATE (RFC
//! 8437) handing a connection from one user to the next, UIDONLY (RFC 9586) hearing
//! another session's changes by UID, and CONTEXT=SEARCH (RFC 5267) updates caused by
//! another session.
//!
//! python3 and mbsync are external programs that `.ci/run` installs; a test fails with a
//! message saying so when one is missing.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ok, Imap, TestServer, PASSWORD};

const BOB: &str = "bob@example.com";
const ALICE: &str = "alice@example.com";

/// Runs `program args` with HOME in `dir`, killed after `limit`; (success, stdout+stderr).
fn run(program: &str, args: &[&str], dir: &Path, limit: Duration) -> (bool, String) {
    let out_path = dir.join(format!("{program}.out"));
    let out = std::fs::File::create(&out_path).expect("output file");
    let err = out.try_clone().expect("output file");
    let mut child = Command::new(program)
        .args(args)
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): is it installed? .ci/run installs it")
        });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.success(),
        std::fs::read_to_string(&out_path).unwrap_or_default(),
    )
}

#[test]
fn python_imaplib_over_compress_deflate() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/imaplib_compress.py"
    );
    let port = server.addr("imap").port().to_string();
    let tls_port = server.addr("imaps").port().to_string();
    let (success, output) = run(
        "python3",
        &[script, &port, &tls_port, BOB, PASSWORD],
        dir.path(),
        Duration::from_secs(60),
    );
    assert!(success, "imaplib_compress.py failed:\n{output}");
    assert!(output.contains("compress ok"), "{output}");
    assert!(output.contains("compress over tls ok"), "{output}");
    assert!(output.contains("pipelined compress ok"), "{output}");
    eprintln!("{output}");
}

fn test_message(n: u32) -> String {
    format!(
        "From: Filler <filler@example.net>\r\nTo: {BOB}\r\nSubject: message {n}\r\n\
         Message-ID: <m{n}@ferrymail.test>\r\n\r\nBody of message {n}, {}\r\n",
        "and some text that compresses. ".repeat(50)
    )
}

#[test]
fn mbsync_syncs_both_ways_over_compress_deflate() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), BOB);
    for n in 1..=3 {
        let m = test_message(n);
        let tag = c.bump();
        c.send_raw(format!("{tag} APPEND INBOX {{{}+}}\r\n{m}\r\n", m.len()).as_bytes());
        let r = c.until_tagged(&tag);
        assert!(ok(&r), "APPEND: {r:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    std::fs::create_dir(&maildir).unwrap();
    let rc = dir.path().join("mbsyncrc");
    std::fs::write(
        &rc,
        format!(
            "IMAPAccount bob\nHost 127.0.0.1\nPort {port}\nUser {BOB}\nPass \"{PASSWORD}\"\n\
             SSLType None\nAuthMechs LOGIN\n\n\
             IMAPStore remote\nAccount bob\n\n\
             MaildirStore local\nPath {root}/\nInbox {root}/INBOX\nSubFolders Verbatim\n\n\
             Channel bob\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\n\
             Expunge Both\nSyncState *\n",
            port = server.addr("imap").port(),
            root = maildir.display(),
        ),
    )
    .unwrap();
    let rc = rc.to_str().unwrap();
    // -Dn prints the protocol exchange: the session must have been compressed.
    let (success, output) = run(
        "mbsync",
        &["-Dn", "-c", rc, "-a"],
        dir.path(),
        Duration::from_secs(120),
    );
    assert!(success, "mbsync failed:\n{output}");
    assert!(
        output.contains("COMPRESS DEFLATE") && output.contains("OK DEFLATE active"),
        "mbsync did not compress:\n{output}"
    );
    let pulled: Vec<String> = std::fs::read_dir(maildir.join("INBOX/cur"))
        .unwrap()
        .chain(std::fs::read_dir(maildir.join("INBOX/new")).unwrap())
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(pulled.len(), 3, "{output}");
    // Maildir files have the local line ends (isync writes LF) and isync's own X-TUID
    // header; otherwise they are the messages byte for byte.
    let local_form = |m: &str| {
        m.replace("\r\n", "\n")
            .lines()
            .filter(|l| !l.starts_with("X-TUID: "))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    for n in 1..=3 {
        let want = local_form(&test_message(n));
        assert!(
            pulled.iter().any(|p| local_form(p) == want),
            "message {n} not pulled unchanged: {pulled:?}"
        );
    }
    // A message written locally goes up over a compressed session too.
    let local = test_message(4);
    std::fs::write(maildir.join("Drafts/new/1.local:2,"), &local).unwrap();
    let (success, output) = run(
        "mbsync",
        &["-Dn", "-c", rc, "-a"],
        dir.path(),
        Duration::from_secs(120),
    );
    assert!(success, "second mbsync failed:\n{output}");
    assert!(output.contains("OK DEFLATE active"), "{output}");
    let r = c.cmd("SELECT Drafts");
    assert!(r.iter().any(|l| l == "* 1 EXISTS"), "{r:?}");
    let r = c.cmd("FETCH 1 BODY.PEEK[]");
    assert!(ok(&r), "{r:?}");
    let body = local.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(
        r[0].contains("Subject: message 4") && r[0].contains(body),
        "pushed message differs: {r:?}"
    );
}

/// After UNAUTHENTICATE and a login as alice on the same connection, IDLE reports alice's
/// INBOX and nothing of bob's, whose INBOX the connection had selected before.
#[test]
fn unauthenticate_hands_the_connection_to_another_user() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), BOB);
    assert!(ok(&c.cmd("SELECT INBOX")));
    let r = c.cmd("UNAUTHENTICATE");
    assert!(ok(&r), "{r:?}");
    let r = c.cmd(&format!("LOGIN {ALICE} \"{PASSWORD}\""));
    assert!(ok(&r), "{r:?}");
    let r = c.cmd("SELECT INBOX");
    assert!(r.iter().any(|l| l == "* 0 EXISTS"), "{r:?}");
    let tag = c.bump();
    c.send_raw(format!("{tag} IDLE\r\n").as_bytes());
    assert_eq!(c.read_line(), "+ idling");
    let mut other = Imap::connect(server.addr("imap"));
    for (user, subject) in [(BOB, "for bob"), (ALICE, "for alice")] {
        let r = other.cmd(&format!("LOGIN {user} \"{PASSWORD}\""));
        assert!(ok(&r), "{r:?}");
        let m = format!("Subject: {subject}\r\n\r\nhi\r\n");
        let t = other.bump();
        other.send_raw(format!("{t} APPEND INBOX {{{}+}}\r\n{m}\r\n", m.len()).as_bytes());
        assert!(ok(&other.until_tagged(&t)));
        assert!(ok(&other.cmd("UNAUTHENTICATE")));
    }
    // Bob's message went in first: a connection still reporting bob's INBOX would show its
    // EXISTS (of a message alice cannot see) before alice's.
    assert_eq!(c.read_line(), "* 1 EXISTS");
    c.send_raw(b"DONE\r\n");
    let r = c.until_tagged(&tag);
    assert!(ok(&r), "{r:?}");
    let r = c.cmd("FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]");
    assert!(r[0].contains("Subject: for alice"), "{r:?}");
}

/// UIDONLY (RFC 9586): changes made by another session (which did not enable it) reach an
/// idling UIDONLY session through the folder actor as UIDFETCH and VANISHED, never with
/// sequence numbers.
#[test]
fn uidonly_session_hears_other_sessions_by_uid() {
    let server = TestServer::start();
    let mut other = Imap::login(server.addr("imap"), BOB);
    for n in 1..=3 {
        let m = test_message(n);
        let t = other.bump();
        other.send_raw(format!("{t} APPEND INBOX {{{}+}}\r\n{m}\r\n", m.len()).as_bytes());
        assert!(ok(&other.until_tagged(&t)));
    }
    let mut c = Imap::login(server.addr("imap"), BOB);
    let r = c.cmd("ENABLE UIDONLY");
    assert!(r.iter().any(|l| l == "* ENABLED UIDONLY"), "{r:?}");
    assert!(ok(&c.cmd("SELECT INBOX")));
    assert!(ok(&other.cmd("SELECT INBOX")));
    let tag = c.bump();
    c.send_raw(format!("{tag} IDLE\r\n").as_bytes());
    assert_eq!(c.read_line(), "+ idling");
    // UID 1 is expunged first, so UID 3 is then sequence number 2. (\\Recent: this session
    // selected first and claimed the messages.)
    assert!(ok(&other.cmd("UID STORE 1 +FLAGS.SILENT (\\Deleted)")));
    assert!(ok(&other.cmd("UID EXPUNGE 1")));
    assert!(ok(&other.cmd("UID STORE 3 +FLAGS.SILENT (\\Flagged)")));
    let mut heard = Vec::new();
    while heard.len() < 10 {
        let l = c.read_line();
        assert!(!l.is_empty(), "connection closed; heard {heard:?}");
        let last = l.starts_with("* 3 UIDFETCH");
        heard.push(l);
        if last {
            break;
        }
    }
    assert_eq!(
        heard,
        [
            "* 1 UIDFETCH (FLAGS (\\Deleted \\Recent))",
            "* VANISHED 1",
            "* 3 UIDFETCH (FLAGS (\\Flagged \\Recent))",
        ]
    );
    c.send_raw(b"DONE\r\n");
    assert!(ok(&c.until_tagged(&tag)));
    let r = c.cmd("FETCH 1 (FLAGS)");
    assert!(r[0].contains("BAD [UIDREQUIRED]"), "{r:?}");
}

/// Reads lines until one equals `want`, at most `max` of them; the lines read, `want` last.
fn read_until(c: &mut Imap, want: &str, max: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..max {
        let l = c.read_line();
        assert!(
            !l.is_empty(),
            "connection closed waiting for {want:?}; got {seen:?}"
        );
        seen.push(l.clone());
        if l == want {
            return seen;
        }
    }
    panic!("no {want:?} in {max} lines: {seen:?}");
}

/// RFC 5267 §4.3: an update context hears of changes another session makes, during IDLE:
/// a flag change adds to it, an expunge removes from it (before the EXPUNGE, while the
/// sequence number is valid), a new message adds to it (after the EXISTS).
#[test]
fn search_context_hears_another_sessions_changes_during_idle() {
    let server = TestServer::start();
    let mut other = Imap::login(server.addr("imap"), BOB);
    for subject in ["a", "b"] {
        let m = format!("Subject: {subject}\r\n\r\nhi\r\n");
        let t = other.bump();
        other.send_raw(format!("{t} APPEND INBOX {{{}+}}\r\n{m}\r\n", m.len()).as_bytes());
        assert!(ok(&other.until_tagged(&t)));
    }
    let mut c = Imap::login(server.addr("imap"), BOB);
    assert!(ok(&c.cmd("SELECT INBOX")));
    let tag = c.next_tag();
    let r = c.cmd("SEARCH RETURN (UPDATE) FLAGGED");
    assert_eq!(
        r,
        [
            format!("* ESEARCH (TAG \"{tag}\")"),
            format!("{tag} OK SEARCH completed")
        ]
    );
    let idle = c.bump();
    c.send_raw(format!("{idle} IDLE\r\n").as_bytes());
    assert_eq!(c.read_line(), "+ idling");
    assert!(ok(&other.cmd("SELECT INBOX")));

    assert!(ok(&other.cmd("STORE 2 +FLAGS (\\Flagged)")));
    read_until(&mut c, &format!("* ESEARCH (TAG \"{tag}\") ADDTO (0 2)"), 5);

    assert!(ok(&other.cmd("STORE 2 +FLAGS (\\Deleted)")));
    assert!(ok(&other.cmd("EXPUNGE")));
    let seen = read_until(&mut c, "* 2 EXPUNGE", 5);
    let removed = format!("* ESEARCH (TAG \"{tag}\") REMOVEFROM (0 2)");
    assert_eq!(seen[seen.len() - 2], removed, "{seen:?}");

    let m = "Subject: c\r\n\r\nhi\r\n";
    let t = other.bump();
    other.send_raw(format!("{t} APPEND INBOX (\\Flagged) {{{}+}}\r\n{m}\r\n", m.len()).as_bytes());
    assert!(ok(&other.until_tagged(&t)));
    let seen = read_until(&mut c, &format!("* ESEARCH (TAG \"{tag}\") ADDTO (0 2)"), 5);
    assert!(seen.contains(&"* 2 EXISTS".to_string()), "{seen:?}");

    c.send_raw(b"DONE\r\n");
    assert!(ok(&c.until_tagged(&idle)));
    let r = c.cmd(&format!("CANCELUPDATE \"{tag}\""));
    assert!(ok(&r), "{r:?}");
    // Cancelled: the next change is reported (FETCH) without an ESEARCH.
    let idle = c.bump();
    c.send_raw(format!("{idle} IDLE\r\n").as_bytes());
    assert_eq!(c.read_line(), "+ idling");
    assert!(ok(&other.cmd("STORE 1 +FLAGS (\\Flagged)")));
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.starts_with("* 1 FETCH")) {
        assert!(seen.len() < 5, "no FETCH for message 1: {seen:?}");
        seen.push(c.read_line());
    }
    c.send_raw(b"DONE\r\n");
    seen.extend(c.until_tagged(&idle));
    assert!(!seen.iter().any(|l| l.starts_with("* ESEARCH")), "{seen:?}");
}

/// RFC 5267 §4.3.1: past the server's limit of update contexts (16 per session) the search
/// is still answered and completes OK, with an untagged `NO [NOUPDATE "tag"]`; cancelling
/// one context makes room for another.
#[test]
fn update_contexts_beyond_the_limit_get_noupdate() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), BOB);
    assert!(ok(&c.cmd("SELECT INBOX")));
    let first = c.next_tag();
    for _ in 0..16 {
        let r = c.cmd("SEARCH RETURN (UPDATE COUNT) ALL");
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(ok(&r) && r[0].ends_with(") COUNT 0"), "{r:?}");
    }
    let tag = c.next_tag();
    let r = c.cmd("SEARCH RETURN (UPDATE COUNT) ALL");
    assert_eq!(
        r[..2],
        [
            format!("* ESEARCH (TAG \"{tag}\") COUNT 0"),
            format!("* NO [NOUPDATE \"{tag}\"] Too many update contexts"),
        ],
        "{r:?}"
    );
    assert!(ok(&r), "{r:?}");
    assert!(ok(&c.cmd(&format!("CANCELUPDATE \"{first}\""))));
    let r = c.cmd("SEARCH RETURN (UPDATE COUNT) ALL");
    assert!(ok(&r) && !r.iter().any(|l| l.contains("NOUPDATE")), "{r:?}");
}
