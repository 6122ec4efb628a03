//! URL splitting, tokens and dates; whole sessions over the in-memory backend (alice's
//! INBOX holds the sample messages; bob shares "Team" with her, "lrsw").

use super::super::fuzz::{MemBackend, OTHER, USER};
use super::super::metadata::session_tests::{login_with_limit, run};
use super::super::session::Session;
use super::*;

#[test]
fn auth_urls_split() {
    let u = parse_auth_url(
        "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred:internal:91354a473744909de610943775f92038",
    )
    .unwrap();
    assert_eq!(
        u.rump,
        "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred"
    );
    assert_eq!((u.user.as_str(), u.host.as_str()), ("joe", "example.com"));
    assert_eq!(u.target.mailbox.as_deref(), Some("INBOX"));
    assert_eq!(
        (u.target.uid, u.target.section.as_deref()),
        (20, Some("1.2"))
    );
    assert_eq!(u.access, Access::Submit("fred".into()));
    assert_eq!(
        u.mech_token,
        Some(("INTERNAL".into(), "91354a473744909de610943775f92038".into()))
    );
    let u = parse_auth_url(
        "imap://bob%40x.org@mx/Caf%C3%A9;UIDVALIDITY=7/;UID=3;EXPIRE=2030-01-02T03:04:05Z;URLAUTH=user+ann%40x.org",
    )
    .unwrap();
    assert_eq!(u.user, "bob@x.org");
    assert_eq!(u.target.mailbox.as_deref(), Some("Café"));
    assert_eq!(u.target.uidvalidity, Some(7));
    assert_eq!(u.expire, Some(1_893_553_445));
    assert_eq!(u.access, Access::User("ann@x.org".into()));
    assert_eq!(u.mech_token, None);
    assert_eq!(
        parse_auth_url("imap://a@b/INBOX/;UID=1;URLAUTH=AuthUser").map(|u| u.access),
        Some(Access::AuthUser)
    );
    for bad in [
        "/INBOX/;UID=1;URLAUTH=anonymous",
        "imap://b/INBOX/;UID=1;URLAUTH=anonymous",
        "imap://a@b/INBOX;URLAUTH=anonymous",
        "imap://a@b/INBOX/;UID=1;URLAUTH=everyone",
        "imap://a@b/INBOX/;UID=1;URLAUTH=user+",
        "imap://a@b/INBOX/;UID=1;URLAUTH=anonymous:INTERNAL",
        "imap://a@b/INBOX/;UID=1;URLAUTH=anonymous:INTERNAL:abc",
        "imap://a@b/INBOX/;UID=1;URLAUTH=anonymous:INTERNAL:zz354a473744909de610943775f92038",
        "imap://a@b/INBOX/;UID=1;EXPIRE=tomorrow;URLAUTH=anonymous",
        "imap://a@b/INBOX/;UID=1",
    ] {
        assert_eq!(parse_auth_url(bad), None, "{bad}");
    }
}

#[test]
fn rfc3339_dates() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_rfc3339("2005-05-05T21:41:49Z"), Some(1_115_329_309));
    assert_eq!(
        parse_rfc3339("2005-05-05T23:41:49.25+02:00"),
        Some(1_115_329_309)
    );
    assert_eq!(
        parse_rfc3339("2005-05-05t16:41:49-05:00"),
        Some(1_115_329_309)
    );
    assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
    for bad in [
        "2005-05-05 21:41:49Z",
        "2005-13-05T21:41:49Z",
        "2005-05-05T24:41:49Z",
        "2005-05-05T21:41:49",
        "2005-05-05T21:41:49.Z",
        "2005-05-05T21:41:49+0200",
        "2005-05-05T21:41:49Zx",
        "+005-05-05T21:41:49Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

#[test]
fn tokens_depend_on_key_and_rump() {
    let t = token(b"k1", "imap://a@b/INBOX/;UID=1;URLAUTH=anonymous");
    assert_eq!(t.len(), 64);
    assert!(verify(
        b"k1",
        "imap://a@b/INBOX/;UID=1;URLAUTH=anonymous",
        &t
    ));
    assert!(!verify(
        b"k2",
        "imap://a@b/INBOX/;UID=1;URLAUTH=anonymous",
        &t
    ));
    assert!(!verify(
        b"k1",
        "imap://a@b/INBOX/;UID=2;URLAUTH=anonymous",
        &t
    ));
    assert!(!verify(
        b"k1",
        "imap://a@b/INBOX/;UID=1;URLAUTH=anonymous",
        &t[..62]
    ));
}

fn login(user: &str, b: &MemBackend) -> Session {
    login_with_limit(user, b, 1_000_000)
}

/// The URL of the `* GENURLAUTH` line in `r`.
fn made(r: &str) -> String {
    let start = r.find("* GENURLAUTH \"").expect(r) + "* GENURLAUTH \"".len();
    let end = r[start..].find('"').expect(r);
    r[start..start + end].to_string()
}

fn gen(s: &mut Session, b: &MemBackend, rump: &str) -> String {
    let r = run(s, b, &format!("g GENURLAUTH \"{rump}\" INTERNAL\r\n"));
    assert!(r.ends_with("g OK GENURLAUTH completed\r\n"), "{r}");
    made(&r)
}

#[test]
fn generate_fetch_and_reset() {
    let b = MemBackend::new();
    let mut alice = login(USER, &b);
    let url = gen(
        &mut alice,
        &b,
        "imap://alice@fuzz.test/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(SUBJECT);urlauth=anonymous",
    );
    assert!(url.contains(";urlauth=anonymous:INTERNAL:"), "{url}");
    let r = run(&mut alice, &b, &format!("f URLFETCH \"{url}\"\r\n"));
    assert!(r.starts_with(&format!("* URLFETCH \"{url}\" {{")), "{r}");
    assert!(r.contains("Subject:"), "{r}");
    assert!(!r.contains("From:"), "{r}");
    // Another user (anonymous admits anyone) sees the same.
    let mut bob = login(OTHER, &b);
    let r = run(&mut bob, &b, &format!("f URLFETCH \"{url}\"\r\n"));
    assert!(r.contains("Subject:"), "{r}");
    // A changed URL or token is NIL.
    let tampered = url.replace("UID=1", "UID=2");
    let r = run(&mut bob, &b, &format!("f URLFETCH \"{tampered}\"\r\n"));
    assert_eq!(
        r,
        format!("* URLFETCH \"{tampered}\" NIL\r\nf OK URLFETCH completed\r\n")
    );
    // RESETKEY revokes.
    let r = run(&mut alice, &b, "r RESETKEY INBOX INTERNAL\r\n");
    assert_eq!(r, "r OK [URLMECH INTERNAL] RESETKEY completed\r\n");
    let r = run(&mut bob, &b, &format!("f URLFETCH \"{url}\"\r\n"));
    assert!(
        r.starts_with(&format!("* URLFETCH \"{url}\" NIL\r\n")),
        "{r}"
    );
    // A new URL works again, and RESETKEY without a mailbox revokes it too.
    let url = gen(
        &mut alice,
        &b,
        "imap://alice@fuzz.test/INBOX/;UID=1;URLAUTH=authuser",
    );
    assert!(!run(&mut bob, &b, &format!("f URLFETCH {url}\r\n")).contains("NIL"));
    assert_eq!(
        run(&mut alice, &b, "r RESETKEY\r\n"),
        "r OK [URLMECH INTERNAL] RESETKEY completed\r\n"
    );
    assert!(run(&mut bob, &b, &format!("f URLFETCH {url}\r\n")).contains(" NIL\r\n"));
    assert_eq!(
        run(&mut alice, &b, "r RESETKEY INBOX XSAMPLE\r\n"),
        "r BAD Unknown URLAUTH mechanism XSAMPLE\r\n"
    );
    // With the mailbox selected, the session hears the mechanisms again (RFC 4467 §6).
    assert!(run(&mut alice, &b, "s SELECT INBOX\r\n").contains("s OK"));
    assert_eq!(
        run(&mut alice, &b, "r RESETKEY\r\n"),
        "* OK [URLMECH INTERNAL] Key reset\r\nr OK [URLMECH INTERNAL] RESETKEY completed\r\n"
    );
    assert_eq!(
        run(&mut alice, &b, "r RESETKEY Drafts\r\n"),
        "r OK [URLMECH INTERNAL] RESETKEY completed\r\n"
    );
}

#[test]
fn access_identifiers_and_expiry() {
    let b = MemBackend::new();
    let mut alice = login(USER, &b);
    let mut bob = login(OTHER, &b);
    let base = "imap://alice@fuzz.test/INBOX/;UID=1";
    let for_bob = gen(
        &mut alice,
        &b,
        &format!("{base};URLAUTH=user+bob%40fuzz.test"),
    );
    let for_alice = gen(&mut alice, &b, &format!("{base};URLAUTH=user+alice"));
    let submit = gen(&mut alice, &b, &format!("{base};URLAUTH=submit+alice"));
    // The in-memory clock stands at 1_700_000_000 (2023-11-14T22:13:20Z).
    let expired = gen(
        &mut alice,
        &b,
        &format!("{base};EXPIRE=2023-11-14T22:13:20Z;URLAUTH=anonymous"),
    );
    let later = gen(
        &mut alice,
        &b,
        &format!("{base};EXPIRE=2023-11-14T22:13:21Z;URLAUTH=anonymous"),
    );
    let nil = |s: &mut Session, url: &str| {
        let r = run(s, &b, &format!("f URLFETCH \"{url}\"\r\n"));
        assert!(r.starts_with("* URLFETCH "), "{r}");
        r.contains(" NIL\r\n")
    };
    assert!(!nil(&mut bob, &for_bob));
    assert!(nil(&mut alice, &for_bob));
    assert!(!nil(&mut alice, &for_alice));
    assert!(nil(&mut bob, &for_alice));
    // No submission server here: submit+ is never honoured.
    assert!(nil(&mut alice, &submit));
    assert!(nil(&mut bob, &expired));
    assert!(!nil(&mut bob, &later));
}

#[test]
fn genurlauth_refusals() {
    let b = MemBackend::new();
    let mut alice = login(USER, &b);
    let no =
        |s: &mut Session, rump: &str| run(s, &b, &format!("g GENURLAUTH \"{rump}\" INTERNAL\r\n"));
    // Another user's URL, a token already there, no such message or mailbox, no URLAUTH.
    for (rump, why) in [
        ("imap://bob@fuzz.test/INBOX/;UID=1;URLAUTH=anonymous", "not of this user"),
        (
            "imap://alice@fuzz.test/INBOX/;UID=1;URLAUTH=anonymous:INTERNAL:91354a473744909de610943775f92038",
            "already has a token",
        ),
        ("imap://alice@fuzz.test/INBOX/;UID=99;URLAUTH=anonymous", "No such message"),
        ("imap://alice@fuzz.test/Nope/;UID=1;URLAUTH=anonymous", "No such mailbox"),
        ("imap://alice@fuzz.test/INBOX/;UID=1", "Not a URLAUTH URL"),
        ("imap://alice@other.host/INBOX/;UID=1;URLAUTH=anonymous", "not of this user"),
    ] {
        let r = no(&mut alice, rump);
        assert!(r.starts_with("g NO [BADURL "), "{rump}: {r}");
        assert!(r.contains(why), "{rump}: {r}");
        assert!(!r.contains("* GENURLAUTH"), "{r}");
    }
    // One bad URL of two: none made.
    let r = run(
        &mut alice,
        &b,
        "g GENURLAUTH \"imap://alice@fuzz.test/INBOX/;UID=1;URLAUTH=anonymous\" INTERNAL \"imap://alice@fuzz.test/INBOX/;UID=99;URLAUTH=anonymous\" INTERNAL\r\n",
    );
    assert!(r.starts_with("g NO [BADURL"), "{r}");
    let r = run(
        &mut alice,
        &b,
        "g GENURLAUTH \"imap://alice@fuzz.test/INBOX/;UID=1;URLAUTH=anonymous\" XSAMPLE\r\n",
    );
    assert_eq!(r, "g BAD Unknown URLAUTH mechanism XSAMPLE\r\n");
    // A folder shared with alice: her key, her view of the name.
    let url = gen(
        &mut alice,
        &b,
        "imap://alice@fuzz.test/Other%20Users/bob%40fuzz.test/Team/;UID=1;URLAUTH=anonymous",
    );
    let mut bob = login(OTHER, &b);
    let fetch = format!("f URLFETCH \"{url}\"\r\n");
    assert!(run(&mut bob, &b, &fetch).starts_with("* URLFETCH \"imap://alice@fuzz.test/Other%20Users/bob%40fuzz.test/Team/;UID=1;URLAUTH=anonymous:INTERNAL:"));
    assert!(!run(&mut bob, &b, &fetch).contains(" NIL\r\n"));
    // Once bob takes "r" away, alice's URL stops working.
    assert!(run(&mut bob, &b, "s SETACL Team alice@fuzz.test l\r\n").contains("s OK"));
    assert!(run(&mut bob, &b, &fetch).contains(" NIL\r\n"));
}

#[test]
fn binary_and_body_part_structure() {
    let b = MemBackend::new();
    let mut alice = login(USER, &b);
    let r = run(&mut alice, &b, "s SELECT INBOX\r\n");
    assert!(r.contains("s OK"), "{r}");
    let r = run(&mut alice, &b, "f UID FETCH 1:* (BODYSTRUCTURE)\r\n");
    // Find a multipart sample message with a base64 or qp leaf.
    let uid = r
        .lines()
        .find(|l| l.contains("\"BASE64\"") || l.contains("\"QUOTED-PRINTABLE\""))
        .and_then(|l| l.split("UID ").nth(1))
        .and_then(|t| t.split(' ').next())
        .map(str::to_string)
        .expect("a sample with an encoded part");
    let whole = gen(
        &mut alice,
        &b,
        &format!("imap://alice@fuzz.test/INBOX/;UID={uid};URLAUTH=anonymous"),
    );
    let r = run(
        &mut alice,
        &b,
        &format!("f URLFETCH ({whole} BODYPARTSTRUCTURE BODY) ({whole}) {whole}\r\n"),
    );
    let lines: Vec<&str> = r.lines().filter(|l| l.starts_with("* URLFETCH")).collect();
    assert_eq!(lines.len(), 3, "{r}");
    assert!(
        lines[0].starts_with(&format!("* URLFETCH {whole} (BODYPARTSTRUCTURE (")),
        "{r}"
    );
    assert!(lines[0].contains(") BODY {"), "{r}");
    assert_eq!(lines[1], format!("* URLFETCH {whole} ()"));
    assert!(
        lines[2].starts_with(&format!("* URLFETCH {whole} {{")),
        "{r}"
    );
    // BINARY of the whole message: no encoded leaf is left, and the fields say so.
    let r = run(&mut alice, &b, &format!("f URLFETCH ({whole} BINARY)\r\n"));
    assert!(r.contains(" (BINARY "), "{r}");
    assert!(
        !r.to_ascii_lowercase().contains("transfer-encoding: base64"),
        "{r}"
    );
    assert!(
        !r.to_ascii_lowercase()
            .contains("transfer-encoding: quoted-printable"),
        "{r}"
    );
    // A HEADER section has no structure to describe.
    let hdr = gen(
        &mut alice,
        &b,
        &format!("imap://alice@fuzz.test/INBOX/;UID={uid}/;SECTION=HEADER;URLAUTH=anonymous"),
    );
    let r = run(
        &mut alice,
        &b,
        &format!("f URLFETCH ({hdr} BODYPARTSTRUCTURE BINARY)\r\n"),
    );
    assert!(
        r.starts_with(&format!("* URLFETCH {hdr} (BINARY {{")),
        "{r}"
    );
    // Unknown URLs in the list form are NIL too.
    let r = run(
        &mut alice,
        &b,
        "f URLFETCH (\"imap://x@y/INBOX/;UID=1\" BINARY)\r\n",
    );
    assert_eq!(
        r,
        "* URLFETCH imap://x@y/INBOX/;UID=1 NIL\r\nf OK URLFETCH completed\r\n"
    );
}

#[test]
fn catenate_takes_urlauth_urls_of_other_users() {
    let b = MemBackend::new();
    let mut alice = login(USER, &b);
    let url = gen(
        &mut alice,
        &b,
        "imap://alice@fuzz.test/INBOX/;UID=1;URLAUTH=user+bob",
    );
    let mut bob = login(OTHER, &b);
    let r = run(
        &mut bob,
        &b,
        &format!("a APPEND INBOX CATENATE (URL \"{url}\" TEXT {{2+}}\r\n\r\n)\r\n"),
    );
    assert!(r.starts_with("a OK [APPENDUID"), "{r}");
    let bad = url.replace(":INTERNAL:", ":INTERNAL:0");
    let r = run(
        &mut bob,
        &b,
        &format!("b APPEND INBOX CATENATE (URL \"{bad}\")\r\n"),
    );
    assert_eq!(
        r,
        format!("b NO [BADURL {bad}] URLAUTH does not authorize this URL\r\n")
    );
    // Alice herself is not "user+bob".
    let r = run(
        &mut alice,
        &b,
        &format!("c APPEND Drafts CATENATE (URL \"{url}\")\r\n"),
    );
    assert!(r.starts_with("c NO [BADURL"), "{r}");
}

#[test]
fn the_fuzz_seed_reaches_urlfetch_success() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/corpus/imap_session/48-urlauth-08"
    );
    let seed = std::fs::read(path).expect("seed written by fuzz/imap_seeds.py");
    let text = String::from_utf8_lossy(&super::super::fuzz::transcript(&seed)).into_owned();
    assert!(text.contains("a OK GENURLAUTH completed"), "{text}");
    assert!(text.contains(";URLAUTH=anonymous:INTERNAL:"), "{text}");
    assert!(text.contains(" (BODYPARTSTRUCTURE ("), "{text}");
    assert!(text.contains("c OK [APPENDUID"), "{text}");
    assert!(text.contains("f OK [URLMECH INTERNAL]"), "{text}");
    assert!(text.contains(" NIL\r\ng OK URLFETCH completed"), "{text}");
}
