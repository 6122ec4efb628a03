//! Session tests of UIDONLY (RFC 9586) against the in-memory backend, whose INBOX holds
//! UIDs 1-4 (\Seen; \Seen \Answered; \Flagged; $Junk), 3 and 4 \Recent.

use super::super::ext_tests::{logged_in, text};
use super::super::fuzz::MemBackend;
use super::super::session::{FolderChange, Session};

fn run(s: &mut Session, b: &MemBackend, input: &str) -> String {
    text(&s.receive(format!("{input}\r\n").as_bytes(), b))
}

/// Logged in, UIDONLY (and `more`) enabled, INBOX selected.
fn uidonly_inbox(b: &MemBackend, more: &str) -> Session {
    let mut s = logged_in(b);
    assert!(s.capabilities().contains(" UIDONLY"));
    let t = run(&mut s, b, &format!("e ENABLE UIDONLY{more}"));
    assert!(t.starts_with("* ENABLED UIDONLY"), "{t}");
    let t = run(&mut s, b, "s SELECT INBOX");
    assert!(t.ends_with("s OK [READ-WRITE] SELECT completed\r\n"), "{t}");
    // RFC 9586: no sequence numbers, so no [UNSEEN n] in a rev1 SELECT.
    assert!(!t.contains("UNSEEN"), "{t}");
    assert!(t.contains("* 4 EXISTS\r\n"), "{t}");
    s
}

#[test]
fn enable_is_reported_once_and_undone_by_unauthenticate() {
    let b = MemBackend::new();
    let mut s = logged_in(&b);
    assert_eq!(
        run(&mut s, &b, "e ENABLE uidonly"),
        "* ENABLED UIDONLY\r\ne OK ENABLE completed\r\n"
    );
    assert_eq!(
        run(&mut s, &b, "e ENABLE UIDONLY"),
        "* ENABLED\r\ne OK ENABLE completed\r\n"
    );
    run(&mut s, &b, "u UNAUTHENTICATE");
    run(&mut s, &b, "l LOGIN x y");
    s.resume_auth(Some(super::super::fuzz::USER.into()), &b);
    run(&mut s, &b, "s SELECT INBOX");
    let t = run(&mut s, &b, "f FETCH 1 (FLAGS)");
    assert!(t.starts_with("* 1 FETCH (FLAGS (\\Seen))\r\n"), "{t}");
}

/// §3: every command and search key with message numbers is BAD [UIDREQUIRED]; without
/// UIDONLY the same commands run.
#[test]
fn message_numbers_are_refused() {
    let commands = [
        "FETCH 1 (FLAGS)",
        "STORE 1 +FLAGS (\\Flagged)",
        "SEARCH ALL",
        "COPY 1 Trash",
        "MOVE 1 Trash",
        "SORT (DATE) UTF-8 ALL",
        "THREAD REFERENCES UTF-8 ALL",
        "UID SEARCH 1:2",
        "UID SEARCH NOT (OR SEEN 1)",
        "UID SORT (DATE) UTF-8 (1:*)",
        "UID THREAD ORDEREDSUBJECT UTF-8 2",
        "FETCH $ (FLAGS)",
    ];
    let b = MemBackend::new();
    let mut s = uidonly_inbox(&b, "");
    for c in commands {
        let t = run(&mut s, &b, &format!("t {c}"));
        assert!(t.starts_with("t BAD [UIDREQUIRED] "), "{c}: {t}");
        assert_eq!(t.lines().count(), 1, "{c}: {t}");
    }
    // Nothing was copied, moved or flagged.
    let t = run(&mut s, &b, "f UID FETCH 1 (FLAGS)");
    assert_eq!(
        t,
        "* 1 UIDFETCH (FLAGS (\\Seen))\r\nf OK FETCH completed\r\n"
    );
    let t = run(&mut s, &b, "t STATUS Trash (MESSAGES)");
    assert!(t.starts_with("* STATUS Trash (MESSAGES 0)"), "{t}");

    let b = MemBackend::new();
    let mut s = logged_in(&b);
    run(&mut s, &b, "s SELECT INBOX");
    for c in commands {
        let t = run(&mut s, &b, &format!("t {c}"));
        assert!(!t.contains("UIDREQUIRED"), "{c}: {t}");
    }
}

/// §3.3: UID FETCH and UID STORE answer with UIDFETCH, numbered by UID (which differs from
/// the sequence number once a message is gone), without the implicit UID item.
#[test]
fn uid_fetch_and_store_answer_with_uidfetch() {
    let b = MemBackend::new();
    let mut s = uidonly_inbox(&b, " CONDSTORE");
    let t = run(&mut s, &b, "f UID FETCH 1:* (FLAGS)");
    assert_eq!(
        t,
        "* 1 UIDFETCH (FLAGS (\\Seen))\r\n\
         * 2 UIDFETCH (FLAGS (\\Seen \\Answered))\r\n\
         * 3 UIDFETCH (FLAGS (\\Flagged \\Recent))\r\n\
         * 4 UIDFETCH (FLAGS (\\Recent $Junk))\r\n\
         f OK FETCH completed\r\n"
    );
    let t = run(&mut s, &b, "x UID STORE 1 +FLAGS (\\Deleted)");
    assert_eq!(
        t,
        "* 1 UIDFETCH (FLAGS (\\Seen \\Deleted) MODSEQ (6))\r\nx OK STORE completed\r\n"
    );
    // §3.4: VANISHED, not EXPUNGE, though QRESYNC is not enabled.
    let t = run(&mut s, &b, "y EXPUNGE");
    assert_eq!(
        t,
        "* VANISHED 1\r\ny OK [HIGHESTMODSEQ 7] EXPUNGE completed\r\n"
    );
    // UID 4 is now sequence number 3; UID is left out even when asked for, unless it is
    // all that was asked for; CONDSTORE's MODSEQ is there.
    let t = run(&mut s, &b, "g UID FETCH 4 (UID FLAGS MODSEQ)");
    assert_eq!(
        t,
        "* 4 UIDFETCH (FLAGS (\\Recent $Junk) MODSEQ (5))\r\ng OK FETCH completed\r\n"
    );
    let t = run(&mut s, &b, "g UID FETCH 4 (UID)");
    assert_eq!(t, "* 4 UIDFETCH (UID 4)\r\ng OK FETCH completed\r\n");
    let t = run(&mut s, &b, "h UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5)");
    assert_eq!(t, "h OK FETCH completed\r\n");
    // SEARCHRES: `$` holds UIDs and stays allowed, in UID commands and as a search key.
    let t = run(&mut s, &b, "r UID SEARCH RETURN (SAVE) FLAGGED");
    assert_eq!(t, "r OK SEARCH completed\r\n");
    let t = run(&mut s, &b, "r UID FETCH $ (FLAGS)");
    assert_eq!(
        t,
        "* 3 UIDFETCH (FLAGS (\\Flagged \\Recent))\r\nr OK FETCH completed\r\n"
    );
    let t = run(&mut s, &b, "r UID SEARCH $");
    assert_eq!(t, "* SEARCH 3\r\nr OK SEARCH completed\r\n");
}

/// §3.4 with MOVE: the moved messages vanish from the source by UID.
#[test]
fn uid_move_reports_vanished() {
    let b = MemBackend::new();
    let mut s = uidonly_inbox(&b, "");
    let t = run(&mut s, &b, "m UID MOVE 2:3 Trash");
    assert!(
        t.ends_with("* VANISHED 2:3\r\nm OK MOVE completed\r\n"),
        "{t}"
    );
    assert!(!t.contains("EXPUNGE"), "{t}");
    // UID REPLACE (RFC 8508) expunges the old message the same way; REPLACE is refused.
    let t = run(&mut s, &b, "r REPLACE 1 INBOX {5+}\r\nhello");
    assert!(t.starts_with("r BAD [UIDREQUIRED] "), "{t}");
    let t = run(&mut s, &b, "r UID REPLACE 4 INBOX {5+}\r\nhello");
    assert!(t.contains("* VANISHED 4\r\n"), "{t}");
    assert!(t.ends_with(" REPLACE completed\r\n"), "{t}");
    assert!(!t.contains("EXPUNGE"), "{t}");
}

/// Changes made elsewhere reach an idling UIDONLY client as UIDFETCH and VANISHED.
#[test]
fn idle_updates_use_uids() {
    let b = MemBackend::new();
    let mut s = uidonly_inbox(&b, "");
    assert_eq!(run(&mut s, &b, "i IDLE"), "+ idling\r\n");
    let change = FolderChange::Flags {
        uid: 4,
        flags: 1,
        keywords: vec![],
        modseq: 99,
    };
    assert_eq!(
        text(&s.folder_changed(change, &b)),
        "* 4 UIDFETCH (FLAGS (\\Seen \\Recent))\r\n"
    );
    let gone = FolderChange::Expunged { uids: vec![1, 3] };
    assert_eq!(text(&s.folder_changed(gone, &b)), "* VANISHED 1,3\r\n");
    assert_eq!(run(&mut s, &b, "DONE"), "i OK IDLE terminated\r\n");
}

/// QRESYNC (RFC 7162) with UIDONLY: changed messages come as UIDFETCH; seq-match-data names
/// messages by number and is refused.
#[test]
fn qresync_select() {
    let b = MemBackend::new();
    let mut s = uidonly_inbox(&b, " QRESYNC");
    let uv = {
        let t = run(&mut s, &b, "u STATUS INBOX (UIDVALIDITY)");
        let v = t.split("UIDVALIDITY ").nth(1).unwrap_or_default();
        v.split(')').next().unwrap_or_default().to_string()
    };
    let t = run(
        &mut s,
        &b,
        &format!("q SELECT INBOX (QRESYNC ({uv} 3 1:4 (2 2)))"),
    );
    assert!(
        t.ends_with(
            "q BAD [UIDREQUIRED] SELECT uses message sequence numbers, UIDONLY is enabled\r\n"
        ),
        "{t}"
    );
    let t = run(
        &mut s,
        &b,
        &format!("q SELECT INBOX (QRESYNC ({uv} 3 1:4))"),
    );
    assert!(
        t.contains("* 3 UIDFETCH (FLAGS (\\Flagged) MODSEQ (4))\r\n"),
        "{t}"
    );
    assert!(
        t.contains("* 4 UIDFETCH (FLAGS ($Junk) MODSEQ (5))\r\n"),
        "{t}"
    );
    assert!(!t.contains(" FETCH "), "{t}");
}
