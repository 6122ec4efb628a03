//! IMAP end to end over real sockets: sessions, changes seen by other sessions and in IDLE,
//! SMTP delivery showing up in IDLE, APPEND/COPY/MOVE with UIDPLUS, ACL sharing.

mod common;

use std::time::{Duration, Instant};

use common::{message, ok, Client, Imap, TestServer};

#[test]
fn login_select_fetch_store_search_expunge() {
    let server = TestServer::start();
    let mut smtp = Client::connect(server.addr("smtp"));
    for i in 0..3 {
        let r = smtp.deliver(
            "a@example.net",
            &["bob@example.com"],
            &message(&format!("m{i}")),
        );
        assert!(r.starts_with("250"), "{r}");
    }
    server.wait_inbox("bob@example.com", 3);

    let mut c = Imap::connect(server.addr("imap"));
    assert!(
        c.greeting
            .starts_with("* OK [CAPABILITY IMAP4rev1 IMAP4rev2"),
        "{}",
        c.greeting
    );
    let r = c.cmd("LOGIN bob@example.com \"wrong\"");
    assert!(
        r.last().unwrap().contains("NO [AUTHENTICATIONFAILED]"),
        "{r:?}"
    );
    let r = c.cmd(&format!("LOGIN bob@example.com \"{}\"", common::PASSWORD));
    assert!(ok(&r), "{r:?}");

    let r = c.cmd("LIST \"\" \"*\"");
    assert!(ok(&r), "{r:?}");
    for name in ["INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"] {
        assert!(
            r.iter()
                .any(|l| l.starts_with("* LIST") && l.ends_with(&format!("\"/\" {name}"))),
            "{name} in {r:?}"
        );
    }
    assert!(
        r.iter()
            .any(|l| l.contains("\\Sent") && l.ends_with(" Sent")),
        "{r:?}"
    );

    let r = c.cmd("SELECT INBOX");
    assert!(ok(&r), "{r:?}");
    assert!(r.iter().any(|l| l == "* 3 EXISTS"), "{r:?}");
    assert!(
        r.iter().any(|l| l.starts_with("* OK [UIDVALIDITY ")),
        "{r:?}"
    );
    assert!(r.last().unwrap().contains("[READ-WRITE]"), "{r:?}");

    let r = c.cmd("FETCH 1:* (UID FLAGS RFC822.SIZE)");
    assert!(ok(&r), "{r:?}");
    assert_eq!(
        r.iter().filter(|l| l.contains(" FETCH (")).count(),
        3,
        "{r:?}"
    );

    let r = c.cmd("FETCH 2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)] ENVELOPE)");
    assert!(ok(&r), "{r:?}");
    assert!(r[0].contains("Subject: m1"), "{r:?}");
    assert!(r[0].contains("ENVELOPE ("), "{r:?}");

    let r = c.cmd("STORE 1 +FLAGS (\\Deleted \\Seen)");
    assert!(ok(&r), "{r:?}");
    assert!(
        r.iter()
            .any(|l| l.starts_with("* 1 FETCH (FLAGS (") && l.contains("\\Deleted")),
        "{r:?}"
    );

    let r = c.cmd("SEARCH UNSEEN");
    assert!(ok(&r), "{r:?}");
    assert!(r.contains(&"* SEARCH 2 3".to_string()), "{r:?}");
    let r = c.cmd("UID SEARCH RETURN (COUNT MIN) SUBJECT m2");
    assert!(
        r.iter()
            .any(|l| l.starts_with("* ESEARCH (TAG ") && l.contains("COUNT 1")),
        "{r:?}"
    );

    let r = c.cmd("EXPUNGE");
    assert!(ok(&r), "{r:?}");
    assert!(r.contains(&"* 1 EXPUNGE".to_string()), "{r:?}");
    let r = c.cmd("STATUS INBOX (MESSAGES UNSEEN UIDNEXT SIZE)");
    assert!(
        r.iter()
            .any(|l| l.starts_with("* STATUS INBOX (MESSAGES 2 UNSEEN 2 UIDNEXT 4 SIZE ")),
        "{r:?}"
    );
    let r = c.cmd("LOGOUT");
    assert!(r.iter().any(|l| l.starts_with("* BYE")), "{r:?}");
}

/// Reads untagged lines until one satisfies `pred` or `within` passes.
fn wait_for(c: &mut Imap, within: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
    c.stream.set_read_timeout(Some(within)).unwrap();
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let l = c.read_line();
        if l.is_empty() {
            break;
        }
        if pred(&l) {
            c.stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            return Some(l);
        }
    }
    c.stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    None
}

#[test]
fn smtp_delivery_reaches_an_idle_session_within_a_second() {
    let server = TestServer::start();
    let mut idle = Imap::login(server.addr("imap"), "bob@example.com");
    assert!(ok(&idle.cmd("SELECT INBOX")));
    let tag = idle.bump();
    idle.send_raw(format!("{tag} IDLE\r\n").as_bytes());
    assert_eq!(idle.read_line(), "+ idling");

    let mut smtp = Client::connect(server.addr("smtp"));
    let sent = Instant::now();
    let r = smtp.deliver("a@example.net", &["bob@example.com"], &message("idle"));
    assert!(r.starts_with("250"), "{r}");
    let seen = wait_for(&mut idle, Duration::from_secs(5), |l| l == "* 1 EXISTS");
    let elapsed = sent.elapsed();
    assert!(seen.is_some(), "no EXISTS during IDLE");
    assert!(elapsed < Duration::from_secs(1), "EXISTS after {elapsed:?}");

    idle.send_raw(b"DONE\r\n");
    let r = idle.until_tagged(&tag);
    assert!(ok(&r), "{r:?}");
}

#[test]
fn changes_from_one_session_reach_the_other_in_and_out_of_idle() {
    let server = TestServer::start();
    let mut smtp = Client::connect(server.addr("smtp"));
    for i in 0..2 {
        smtp.deliver(
            "a@example.net",
            &["bob@example.com"],
            &message(&format!("x{i}")),
        );
    }
    server.wait_inbox("bob@example.com", 2);
    let mut a = Imap::login(server.addr("imap"), "bob@example.com");
    let mut b = Imap::login(server.addr("imap"), "bob@example.com");
    assert!(ok(&a.cmd("SELECT INBOX")));
    assert!(ok(&b.cmd("SELECT INBOX")));

    // Out of IDLE: B's flag change shows up in A's next NOOP.
    assert!(ok(&b.cmd("STORE 1 +FLAGS (\\Flagged)")));
    std::thread::sleep(Duration::from_millis(200));
    let r = a.cmd("NOOP");
    assert!(
        r.iter()
            .any(|l| l.starts_with("* 1 FETCH (") && l.contains("\\Flagged")),
        "{r:?}"
    );

    // In IDLE: B's expunge and APPEND show up at once.
    let tag = a.bump();
    a.send_raw(format!("{tag} IDLE\r\n").as_bytes());
    assert_eq!(a.read_line(), "+ idling");
    assert!(ok(&b.cmd("STORE 2 +FLAGS (\\Deleted)")));
    assert!(wait_for(&mut a, Duration::from_secs(5), |l| l
        .starts_with("* 2 FETCH (")
        && l.contains("\\Deleted"))
    .is_some());
    assert!(ok(&b.cmd("EXPUNGE")));
    assert!(wait_for(&mut a, Duration::from_secs(5), |l| l == "* 2 EXPUNGE").is_some());
    let tag_b = b.bump();
    b.send_raw(format!("{tag_b} APPEND INBOX (\\Seen) {{12+}}\r\nHello world\n\r\n").as_bytes());
    let r = b.until_tagged(&tag_b);
    assert!(r.last().unwrap().contains("[APPENDUID "), "{r:?}");
    assert!(wait_for(&mut a, Duration::from_secs(5), |l| l == "* 2 EXISTS").is_some());
    a.send_raw(b"DONE\r\n");
    assert!(ok(&a.until_tagged(&tag)));
}

#[test]
fn append_copy_move_with_uidplus() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob@example.com");
    let tag = c.bump();
    c.send_raw(format!("{tag} APPEND Drafts (\\Draft) {{23}}\r\n").as_bytes());
    assert!(c.read_line().starts_with("+ "));
    c.send_raw(b"Subject: draft\r\n\r\nbody\r\n\r\n");
    let r = c.until_tagged(&tag);
    assert!(r.last().unwrap().contains("[APPENDUID "), "{r:?}");
    assert!(ok(&c.cmd("SELECT Drafts")));
    let r = c.cmd("UID COPY 1 Archive");
    assert!(r.last().unwrap().contains("[COPYUID "), "{r:?}");
    let r = c.cmd("UID MOVE 1 Trash");
    assert!(ok(&r), "{r:?}");
    assert!(r.iter().any(|l| l.starts_with("* OK [COPYUID ")), "{r:?}");
    assert!(r.iter().any(|l| l == "* 1 EXPUNGE"), "{r:?}");
    let r = c.cmd("STATUS Trash (MESSAGES)");
    assert!(
        r.iter().any(|l| l == "* STATUS Trash (MESSAGES 1)"),
        "{r:?}"
    );
    let r = c.cmd("COPY 1 Nowhere");
    assert!(
        r.last().unwrap().contains("BAD") || r.last().unwrap().contains("NO"),
        "{r:?}"
    );
    let r = c.cmd("CREATE Projects/2026");
    assert!(ok(&r), "{r:?}");
    let r = c.cmd("LIST \"\" \"Projects*\"");
    assert!(
        r.iter()
            .any(|l| l.contains("\\HasChildren") && l.ends_with(" Projects")),
        "{r:?}"
    );
    let r = c.cmd("APPEND Nowhere {1+}\r\nx");
    assert!(r.last().unwrap().contains("[TRYCREATE]"), "{r:?}");
}

#[test]
fn shared_folders_follow_acl_rights() {
    let server = TestServer::start();
    let mut alice = Imap::login(server.addr("imap"), "alice@example.com");
    assert!(ok(&alice.cmd("CREATE Shared")));
    let r = alice.cmd("APPEND Shared {7+}\r\nhi bob\n");
    assert!(ok(&r), "{r:?}");
    let mut bob = Imap::login(server.addr("imap"), "bob@example.com");
    let r = bob.cmd("LIST \"\" \"Other Users/*\"");
    assert!(
        !r.iter().any(|l| l.contains("Shared")),
        "invisible before SETACL: {r:?}"
    );
    let r = alice.cmd("SETACL Shared bob@example.com lr");
    assert!(ok(&r), "{r:?}");
    let r = alice.cmd("GETACL Shared");
    assert!(r.iter().any(|l| l.contains("bob@example.com lr")), "{r:?}");
    let r = bob.cmd("LIST \"\" \"Other Users/*\"");
    assert!(
        r.iter()
            .any(|l| l.ends_with("\"Other Users/alice@example.com/Shared\"")),
        "{r:?}"
    );
    let r = bob.cmd("MYRIGHTS \"Other Users/alice@example.com/Shared\"");
    assert!(r.iter().any(|l| l.ends_with(" lr")), "{r:?}");
    let r = bob.cmd("SELECT \"Other Users/alice@example.com/Shared\"");
    assert!(ok(&r) && r.last().unwrap().contains("READ-ONLY"), "{r:?}");
    let r = bob.cmd("FETCH 1 BODY[]");
    assert!(r[0].contains("hi bob"), "{r:?}");
    let r = bob.cmd("SETACL \"Other Users/alice@example.com/Shared\" bob@example.com lrswi");
    assert!(r.last().unwrap().contains("NO"), "{r:?}");
}

#[test]
fn three_failed_logins_close_the_connection_and_are_logged() {
    let server = TestServer::start();
    let mut c = Imap::connect(server.addr("imap"));
    for i in 0..3 {
        let r = c.cmd(&format!("LOGIN bob@example.com wrong{i}"));
        assert!(r.last().unwrap().contains("NO"), "{r:?}");
    }
    assert_eq!(c.read_line(), "* BYE Too many failed logins");
    assert_eq!(c.read_line(), "");
    let log = std::fs::read_to_string(server.data_dir().join("logs/auth-failures.log")).unwrap();
    assert_eq!(
        log.lines().filter(|l| l.contains("protocol=imap")).count(),
        3,
        "{log}"
    );
}

#[test]
fn literals_beyond_appendlimit_are_refused_before_they_are_read() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob@example.com");
    let r = c.cmd("APPEND INBOX {2000000}");
    assert!(r.last().unwrap().contains("NO [TOOBIG]"), "{r:?}");
    let r = c.cmd("NOOP");
    assert!(ok(&r), "the session lives on: {r:?}");
    let r = c.cmd("FOO BAR");
    assert!(r.last().unwrap().contains("BAD"), "{r:?}");
    assert!(ok(&c.cmd("NOOP")));
}

#[test]
fn python_imaplib_full_session() {
    let server = TestServer::start();
    let mut smtp = Client::connect(server.addr("smtp"));
    smtp.deliver("a@example.net", &["bob@example.com"], &message("py"));
    server.wait_inbox("bob@example.com", 1);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/imaplib_session.py"
    );
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(server.addr("imap").port().to_string())
        .arg(server.addr("imaps").port().to_string())
        .args(["bob@example.com", common::PASSWORD])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn subscriptions_are_names_that_outlive_their_folders() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob@example.com");
    assert!(ok(&c.cmd("CREATE Lists")));
    assert!(ok(&c.cmd("SUBSCRIBE Lists")));
    assert!(ok(&c.cmd("DELETE Lists")));
    // RFC 3501 §6.3.6: deleting a mailbox does not remove its name from the subscriptions.
    let r = c.cmd("LSUB \"\" Lists");
    assert!(
        r.iter().any(|l| l == "* LSUB (\\Noselect) \"/\" Lists"),
        "{r:?}"
    );
    let r = c.cmd("LIST (SUBSCRIBED) \"\" Lists");
    assert!(
        r.iter()
            .any(|l| l == "* LIST (\\NonExistent \\Subscribed) \"/\" Lists"),
        "{r:?}"
    );
    // Re-created, it is subscribed again at once; UNSUBSCRIBE removes it for good.
    assert!(ok(&c.cmd("CREATE Lists")));
    let r = c.cmd("LIST (SUBSCRIBED) \"\" Lists");
    assert!(
        r.iter()
            .any(|l| l == "* LIST (\\HasNoChildren \\Subscribed) \"/\" Lists"),
        "{r:?}"
    );
    assert!(ok(&c.cmd("UNSUBSCRIBE Lists")));
    let r = c.cmd("LSUB \"\" Lists");
    assert_eq!(r.len(), 1, "{r:?}");
    // Unsubscribing a name that is not subscribed is not an error.
    assert!(ok(&c.cmd("UNSUBSCRIBE Never")));

    // Someone else's folder shared with bob is not subscribed for bob just because its
    // owner subscribed it.
    let mut alice = Imap::login(server.addr("imap"), "alice@example.com");
    assert!(ok(&alice.cmd("CREATE Team")));
    assert!(ok(&alice.cmd("SUBSCRIBE Team")));
    assert!(ok(&alice.cmd("SETACL Team bob@example.com lr")));
    let r = c.cmd("LSUB \"\" \"Other Users/*\"");
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(ok(
        &c.cmd("SUBSCRIBE \"Other Users/alice@example.com/Team\"")
    ));
    let r = c.cmd("LSUB \"\" \"Other Users/*\"");
    assert!(
        r.iter()
            .any(|l| l.ends_with("\"Other Users/alice@example.com/Team\"")),
        "{r:?}"
    );
}

/// RFC 9051 §7.3.5: a keyword another session sets (or a message arriving with one) is
/// announced in FLAGS and PERMANENTFLAGS before any FETCH or EXISTS shows it, in and out of
/// IDLE. (imaptest's stress mode counted each miss as a protocol error.)
#[test]
fn keywords_from_other_sessions_are_announced_before_they_are_shown() {
    let server = TestServer::start();
    let mut a = Imap::login(server.addr("imap"), "bob@example.com");
    let mut b = Imap::login(server.addr("imap"), "bob@example.com");
    let tag = b.bump();
    b.send_raw(format!("{tag} APPEND INBOX {{12+}}\r\nHello world\n\r\n").as_bytes());
    assert!(ok(&b.until_tagged(&tag)));
    assert!(ok(&a.cmd("SELECT INBOX")));
    assert!(ok(&b.cmd("SELECT INBOX")));

    assert!(ok(&b.cmd("STORE 1 +FLAGS ($Fresh)")));
    // The change reaches A's session through its folder actor: ask until it is there
    // (bounded), then check the order of what came.
    let mut seen = Vec::new();
    for _ in 0..100 {
        let r = a.cmd("NOOP");
        if r.iter().any(|l| l.starts_with("* 1 FETCH")) {
            seen = r;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let pos = |p: &str| seen.iter().position(|l| l.starts_with(p));
    let (flags, permanent, fetch) = (
        pos("* FLAGS (").expect("FLAGS announced"),
        pos("* OK [PERMANENTFLAGS (").expect("PERMANENTFLAGS announced"),
        pos("* 1 FETCH").expect("FETCH"),
    );
    assert!(flags < fetch && permanent < fetch, "{seen:?}");
    assert!(seen[flags].contains("$Fresh") && seen[permanent].contains("$Fresh \\*)"));
    assert!(seen[fetch].contains("$Fresh"), "{seen:?}");

    // A message that arrives with a new keyword, during IDLE.
    let tag = a.bump();
    a.send_raw(format!("{tag} IDLE\r\n").as_bytes());
    assert_eq!(a.read_line(), "+ idling");
    let tb = b.bump();
    b.send_raw(format!("{tb} APPEND INBOX ($Later) {{12+}}\r\nHello again\n\r\n").as_bytes());
    assert!(ok(&b.until_tagged(&tb)));
    let first = wait_for(&mut a, Duration::from_secs(5), |l| {
        l.starts_with("* FLAGS") || l.starts_with("* 2 EXISTS")
    });
    let first = first.expect("an update during IDLE");
    assert!(
        first.starts_with("* FLAGS") && first.contains("$Fresh $Later"),
        "{first}"
    );
    a.send_raw(b"DONE\r\n");
    assert!(ok(&a.until_tagged(&tag)));
    // Known keywords are not announced again.
    let r = a.cmd("FETCH 1:2 FLAGS");
    assert!(!r.iter().any(|l| l.starts_with("* FLAGS")), "{r:?}");
}

/// RFC 9051 §4.3: a literal holds no NUL (`CHAR8 = %x01-ff`). A message appended as a
/// binary literal (RFC 3516 `~{n}`) with NULs in it shows them as 0x80 to BODY[] fetches,
/// same size, while BINARY[] returns the exact bytes as a literal8.
#[test]
fn binary_appended_nuls_never_reach_a_plain_literal() {
    use std::io::Read;
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob@example.com");
    let body: &[u8] = b"\x00-\xe4\n\r\n\n";
    let mut msg = b"From: user@domain.org\r\nContent-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: binary\r\n\r\n"
        .to_vec();
    msg.extend_from_slice(body);
    let tag = c.bump();
    c.send_raw(format!("{tag} APPEND INBOX ~{{{}+}}\r\n", msg.len()).as_bytes());
    c.send_raw(&msg);
    c.send_raw(b"\r\n");
    assert!(ok(&c.until_tagged(&tag)));
    assert!(ok(&c.cmd("SELECT INBOX")));
    c.send_raw(b"f1 FETCH 1 (BODY.PEEK[1] BINARY.PEEK[1] RFC822.SIZE)\r\n");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"f1 OK FETCH completed\r\n") {
        let n = c.stream.read(&mut buf).expect("read");
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let shown: &[u8] = b"\x80-\xe4\n\r\n\n";
    let want_body = [b"BODY[1] {7}\r\n".as_slice(), shown].concat();
    let want_binary = [b"BINARY[1] ~{7}\r\n".as_slice(), body].concat();
    let has = |needle: &[u8]| got.windows(needle.len()).any(|w| w == needle);
    assert!(has(&want_body), "{:?}", String::from_utf8_lossy(&got));
    assert!(has(&want_binary), "{:?}", String::from_utf8_lossy(&got));
    assert!(has(format!("RFC822.SIZE {}", msg.len()).as_bytes()));
    let literal_start = got.windows(4).position(|w| w == b"{7}\r").expect("literal");
    let binary_start = got
        .windows(5)
        .position(|w| w == b"~{7}\r")
        .expect("literal8");
    assert!(
        !got[literal_start..binary_start].contains(&0),
        "a NUL in a plain literal"
    );
}
