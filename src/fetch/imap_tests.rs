use super::super::testing::{scripted, scripted_through};
use super::*;

fn resp(text: &str, literals: &[&str]) -> Response {
    Response {
        text: text.as_bytes().to_vec(),
        literals: literals.iter().map(|l| l.as_bytes().to_vec()).collect(),
    }
}

#[test]
fn parsers() {
    assert_eq!(literal_at_end(b"* 1 FETCH (BODY[] {12}"), Some(12));
    assert_eq!(literal_at_end(b"a {3+}"), Some(3));
    assert_eq!(literal_at_end(b"a {x}"), None);
    assert_eq!(literal_at_end(b"a {}"), None);
    assert_eq!(literal_at_end(b"no literal"), None);

    let r = resp(
        "* 3 FETCH (UID 17 RFC822.SIZE 2048 FLAGS (\\Seen (x)) BODY[] {5})",
        &["hello"],
    );
    assert_eq!(
        parse_fetch(&r).unwrap(),
        Some(FetchData {
            uid: Some(17),
            size: Some(2048),
            body: Some(b"hello".to_vec())
        })
    );
    let r = resp("* 3 FETCH (BODY[] \"q\\\"x\" UID 4)", &[]);
    assert_eq!(
        parse_fetch(&r).unwrap().unwrap().body,
        Some(b"q\"x".to_vec())
    );
    assert_eq!(parse_fetch(&resp("* 3 EXISTS", &[])).unwrap(), None);
    assert!(parse_fetch(&resp("* 3 FETCH (BODY[] {5})", &[])).is_err());

    let ok = resp("* OK [UIDVALIDITY 3857529045] UIDs valid", &[]);
    assert_eq!(response_code(&ok, "UIDVALIDITY"), Some(3_857_529_045));
    assert_eq!(response_code(&ok, "UIDNEXT"), None);

    assert_eq!(quote("a\"b\\c").unwrap(), "\"a\\\"b\\\\c\"");
    assert!(quote("a\r\nb").is_err());
    assert_eq!(uid_set(&[9, 1, 2, 3, 7, 10, 2]), "1:3,7,9:10");
    assert_eq!(uid_set(&[5]), "5");
}

#[tokio::test]
async fn login_select_list_fetch_delete_expunge() {
    // Whole responses, then every response split at every byte.
    for capacity in [1 << 20, 1] {
        login_select_list_fetch_delete_expunge_through(capacity).await;
    }
}

async fn login_select_list_fetch_delete_expunge_through(capacity: usize) {
    let (conn, server) = scripted_through(
        r#"
        S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready
        C: f1 AUTHENTICATE PLAIN AGJvYgBwdw==
        S: f1 OK [CAPABILITY IMAP4rev1 UIDPLUS] done
        C: f2 SELECT INBOX
        S: * 2 EXISTS
        S: * OK [UIDVALIDITY 77] ok
        S: * FLAGS (\Seen \Deleted)
        S: f2 OK [READ-WRITE] SELECT completed
        C: f3 UID FETCH 1:* (UID RFC822.SIZE)
        S: * 1 FETCH (UID 5 RFC822.SIZE 10)
        S: * 2 FETCH (RFC822.SIZE 20 UID 9)
        S: f3 OK done
        C: f4 UID FETCH 9 (UID BODY.PEEK[])
        S: * 2 FETCH (UID 9 BODY[] {12}
        S: Subject: x\r\n)
        S: f4 OK done
        C: f5 UID FETCH 5 (UID BODY.PEEK[])
        S: f5 OK nothing (expunged meanwhile)
        C: f6 UID STORE 9 +FLAGS.SILENT (\Deleted)
        S: f6 OK
        C: f7 UID EXPUNGE 9
        S: * 2 EXPUNGE
        S: f7 OK
        C: f8 LOGOUT
        S: * BYE
        S: f8 OK
        "#,
        capacity,
    );
    let mut c = ImapClient::start(conn, 1000).await.unwrap();
    c.login("bob", "pw").await.unwrap();
    assert!(c.has_capability("UIDPLUS"));
    assert_eq!(c.select_inbox().await.unwrap(), 77);
    assert_eq!(
        c.list().await.unwrap(),
        vec![
            ImapMessage { uid: 5, size: 10 },
            ImapMessage { uid: 9, size: 20 }
        ]
    );
    assert_eq!(
        c.fetch_body(9).await.unwrap(),
        Some(b"Subject: x\r\n".to_vec())
    );
    assert_eq!(c.fetch_body(5).await.unwrap(), None);
    c.delete(&[9]).await.unwrap();
    c.expunge(&[9]).await.unwrap();
    // The BYE before the tagged OK of LOGOUT is expected.
    c.logout().await.unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn login_without_auth_plain_refusals_and_bounds() {
    let (conn, server) = scripted(
        r#"
        S: * OK ready
        C: f1 CAPABILITY
        S: * CAPABILITY IMAP4rev1 STARTTLS
        S: f1 OK
        C: f2 LOGIN "bob" "p\"w"
        S: f2 NO [AUTHENTICATIONFAILED] Invalid credentials
        "#,
    );
    let mut c = ImapClient::start(conn, 1000).await.unwrap();
    c.capability().await.unwrap();
    assert!(c.has_capability("STARTTLS"));
    let e = c.login("bob", "p\"w").await.unwrap_err();
    assert!(
        matches!(&e, FetchError::Auth(t) if t.contains("AUTHENTICATIONFAILED")),
        "{e}"
    );
    server.await.unwrap().unwrap();

    // AUTH=PLAIN without SASL-IR: the continuation round.
    let (conn, server) = scripted(
        r#"
        S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready
        C: f1 AUTHENTICATE PLAIN
        S: +
        C: AGJvYgBwdw==
        S: f1 OK
        "#,
    );
    let mut c = ImapClient::start(conn, 1000).await.unwrap();
    c.login("bob", "pw").await.unwrap();
    server.await.unwrap().unwrap();

    let (conn, _s) = scripted("S: * OK [CAPABILITY IMAP4rev1 LOGINDISABLED] x");
    let mut c = ImapClient::start(conn, 1000).await.unwrap();
    assert!(matches!(c.login("a", "b").await, Err(FetchError::Auth(_))));

    let (conn, _s) = scripted("S: * BYE too busy");
    assert!(matches!(
        ImapClient::start(conn, 1000).await,
        Err(FetchError::Server(_))
    ));

    // A literal over the bound is refused before it is read.
    let (conn, _s) = scripted(
        r#"
        S: * OK [CAPABILITY IMAP4rev1] x
        C: f1 UID FETCH 1 (UID BODY.PEEK[])
        S: * 1 FETCH (UID 1 BODY[] {5000}
        "#,
    );
    let mut c = ImapClient::start(conn, 1000).await.unwrap();
    assert!(matches!(
        c.fetch_body(1).await,
        Err(FetchError::TooBig(1000))
    ));
}

/// A tagged status that starts with a non-ASCII byte used to panic (a str sliced inside a
/// character); now it is the server's error like any other status than OK.
#[tokio::test]
async fn a_non_ascii_byte_after_the_tag_is_an_error_not_a_panic() {
    for status in ["\u{20ac}K what", "\u{e9}"] {
        let (conn, _server) = scripted(&format!(
            r#"
            S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready
            C: f1 SELECT INBOX
            S: f1 {status}
            "#
        ));
        let mut c = ImapClient::start(conn, 1000).await.unwrap();
        match c.select_inbox().await {
            Err(FetchError::Server(text)) => assert!(text.contains(status), "{text}"),
            other => panic!("{other:?}"),
        }
    }
}

/// A listing is bounded: a server that answers UID FETCH with more untagged responses than
/// any mailbox this client collects is refused with a clear error, not buffered.
#[tokio::test]
async fn an_endless_listing_is_refused() {
    let mut script = String::from(
        "S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\n\
         C: f1 SELECT INBOX\n\
         S: * 1 EXISTS\n\
         S: * OK [UIDVALIDITY 7] ok\n\
         S: f1 OK [READ-WRITE] done\n\
         C: f2 UID FETCH 1:* (UID RFC822.SIZE)\n",
    );
    for i in 1..=crate::fetch::MAX_LISTING_ENTRIES + 1 {
        script.push_str(&format!("S: * {i} FETCH (UID {i} RFC822.SIZE 10)\n"));
    }
    let (conn, _server) = scripted(&script);
    let mut c = ImapClient::start(conn, 1000).await.unwrap();
    c.select_inbox().await.unwrap();
    match c.list().await {
        Err(FetchError::Protocol(e)) => assert!(e.contains("entries"), "{e}"),
        other => panic!("{:?}", other.map(|l| l.len())),
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever a server sends, the client ends with a result, never a panic.
    #[test]
    fn arbitrary_server_bytes_never_panic(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        prefix in proptest::prelude::any::<bool>(),
    ) {
        let mut input = if prefix { b"* OK [CAPABILITY IMAP4rev1] hi\r\n".to_vec() } else { Vec::new() };
        input.extend_from_slice(&bytes);
        super::super::testing::block_on(async {
            let conn = super::super::testing::feeding(&input).await;
            if let Ok(mut c) = ImapClient::start(conn, 100).await {
                let _ = c.select_inbox().await;
                let _ = c.list().await;
                let _ = c.fetch_body(1).await;
            }
        });
    }

    #[test]
    fn fetch_responses_never_panic(text in "[ -~]{0,80}", lits in proptest::collection::vec(".{0,10}", 0..3)) {
        let r = Response {
            text: text.into_bytes(),
            literals: lits.into_iter().map(String::into_bytes).collect(),
        };
        let _ = parse_fetch(&r);
        let _ = response_code(&r, "UIDVALIDITY");
    }
}
