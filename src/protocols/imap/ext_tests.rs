//! Session tests of COMPRESS (RFC 4978), UNAUTHENTICATE (RFC 8437) and SAVEDATE (RFC 8514)
//! against the in-memory backend (whose messages were all saved at its fixed `NOW`,
//! 14-Nov-2023 22:13:20 UTC).

use super::fuzz::{MemBackend, USER};
use super::session::{Action, Session, SessionConfig};

/// A session after its greeting, plaintext login allowed.
fn greeted() -> Session {
    let mut s = Session::new(
        SessionConfig {
            hostname: "h".into(),
            starttls_available: false,
            allow_plaintext: true,
            append_limit: 1 << 20,
            unauthenticate: true,
            max_line: 8192,
        },
        false,
    );
    s.greeting();
    s
}

pub(super) fn logged_in(b: &MemBackend) -> Session {
    let mut s = greeted();
    let acts = s.receive(b"l LOGIN x y\r\n", b);
    assert!(
        matches!(acts[..], [Action::Authenticate { .. }]),
        "{acts:?}"
    );
    s.resume_auth(Some(USER.into()), b);
    s
}

pub(super) fn text(actions: &[Action]) -> String {
    let mut t = String::new();
    for a in actions {
        if let Action::Send(b) = a {
            t.push_str(&String::from_utf8_lossy(b));
        }
    }
    t
}

/// The OK goes out before the action; input after the command (already compressed by a
/// client that did not wait) goes to the shell, and nothing is read until it is done.
#[test]
fn compress_hands_over_what_followed_and_waits() {
    let b = MemBackend::new();
    let mut s = logged_in(&b);
    assert!(s.capabilities().contains("COMPRESS=DEFLATE"));
    let acts = s.receive(b"c COMPRESS DEFLATE\r\n\x78\x9c\x01", &b);
    assert_eq!(
        acts,
        vec![
            Action::Send(b"c OK DEFLATE active\r\n".to_vec()),
            Action::Compress {
                pending: b"\x78\x9c\x01".to_vec()
            }
        ]
    );
    assert!(
        s.receive(b"n NOOP\r\n", &b).is_empty(),
        "read while starting"
    );
    assert_eq!(text(&s.compression_started(&b)), "n OK NOOP completed\r\n");
    let acts = s.receive(b"d COMPRESS DEFLATE\r\n", &b);
    assert_eq!(
        text(&acts),
        "d BAD [COMPRESSIONACTIVE] DEFLATE is already active\r\n"
    );
    // UNAUTHENTICATE would have to end compression mid-stream: withdrawn, and BAD.
    assert!(!s.capabilities().contains("UNAUTHENTICATE"));
    let acts = s.receive(b"u UNAUTHENTICATE\r\n", &b);
    assert!(text(&acts).starts_with("u BAD "), "{acts:?}");
    assert!(s.is_authenticated());
}

#[test]
fn unauthenticate_forgets_the_user_and_can_be_turned_off() {
    let b = MemBackend::new();
    let mut s = logged_in(&b);
    let acts = s.receive(b"e ENABLE UTF8=ACCEPT\r\ns SELECT INBOX\r\n", &b);
    assert!(text(&acts).contains("s OK [READ-WRITE]"), "{acts:?}");
    let acts = s.receive(b"u UNAUTHENTICATE\r\n", &b);
    assert!(acts.contains(&Action::UnwatchAll), "{acts:?}");
    assert!(
        text(&acts).ends_with("u OK UNAUTHENTICATE completed, now in not authenticated state\r\n")
    );
    assert!(!s.is_authenticated() && s.user().is_none());
    let acts = s.receive(b"e ENABLE UTF8=ACCEPT\r\n", &b);
    assert!(text(&acts).starts_with("e BAD "), "{acts:?}");

    let mut s = logged_in(&b);
    s.config.unauthenticate = false;
    assert!(!s.capabilities().contains("UNAUTHENTICATE"));
    let acts = s.receive(b"u UNAUTHENTICATE\r\n", &b);
    assert_eq!(text(&acts), "u BAD UNAUTHENTICATE is not enabled here\r\n");
    assert!(s.is_authenticated());
}

/// SAVEDATE (RFC 8514): FETCH SAVEDATE and the SAVED* search keys use the save date, not
/// the internal date.
#[test]
fn savedate_fetch_and_search() {
    let b = MemBackend::new();
    let mut s = logged_in(&b);
    assert!(s.capabilities().contains(" SAVEDATE "));
    let acts = s.receive(b"s SELECT INBOX\r\n", &b);
    assert!(text(&acts).contains("s OK [READ-WRITE]"), "{acts:?}");
    let t = text(&s.receive(b"f FETCH 1 (SAVEDATE)\r\n", &b));
    assert!(
        t.starts_with("* 1 FETCH (SAVEDATE \"14-Nov-2023 22:13:20 +0000\")\r\n"),
        "{t}"
    );
    let all = text(&s.receive(b"a SEARCH ALL\r\n", &b));
    let all = all.lines().next().unwrap_or_default().to_string();
    assert!(all.len() > "* SEARCH".len(), "{all}");
    for (key, everything) in [
        ("SAVEDON 14-Nov-2023", true),
        ("SAVEDSINCE 14-Nov-2023", true),
        ("SAVEDSINCE 15-Nov-2023", false),
        ("SAVEDBEFORE 14-Nov-2023", false),
        ("SAVEDBEFORE 15-Nov-2023", true),
        ("SAVEDATESUPPORTED", true),
        ("NOT SAVEDATESUPPORTED", false),
    ] {
        let t = text(&s.receive(format!("k SEARCH {key}\r\n").as_bytes(), &b));
        let first = t.lines().next().unwrap_or_default();
        let want = if everything { all.as_str() } else { "* SEARCH" };
        assert_eq!(first, want, "{key}");
        assert!(t.ends_with("k OK SEARCH completed\r\n"), "{key}: {t}");
    }
}

/// A password check action can be logged with `{:?}` without showing the password.
#[test]
fn authenticate_action_debug_hides_the_password() {
    let b = MemBackend::new();
    let acts = greeted().receive(b"l LOGIN bob hunter2secret\r\n", &b);
    let shown = format!("{acts:?}");
    assert!(shown.contains("Authenticate"), "{shown}");
    assert!(shown.contains("bob"), "{shown}");
    assert!(!shown.contains("hunter2secret"), "{shown}");
}
