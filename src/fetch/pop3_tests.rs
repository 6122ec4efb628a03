use super::super::testing::{scripted, scripted_through};
use super::*;

#[test]
fn parsers() {
    assert_eq!(parse_status(b"+OK ready").unwrap(), Ok("ready".into()));
    assert_eq!(parse_status(b"+OK").unwrap(), Ok(String::new()));
    assert_eq!(
        parse_status(b"-ERR [AUTH] no").unwrap(),
        Err("[AUTH] no".into())
    );
    assert!(parse_status(b"* OK imap").is_err());
    assert_eq!(unstuff(b"."), None);
    assert_eq!(unstuff(b".."), Some(&b"."[..]));
    assert_eq!(unstuff(b"..leading"), Some(&b".leading"[..]));
    assert_eq!(unstuff(b"plain"), Some(&b"plain"[..]));
    assert_eq!(unstuff(b""), Some(&b""[..]));
    assert_eq!(
        parse_uidl_line(b"3 QhdPYR:00WBw1Ph7x7").unwrap(),
        (3, "QhdPYR:00WBw1Ph7x7".into())
    );
    assert!(parse_uidl_line(b"3").is_err());
    assert!(parse_uidl_line(b"x abc").is_err());
    assert!(parse_uidl_line(&[b"1 ".to_vec(), vec![b'a'; 71]].concat()).is_err());
    assert_eq!(parse_list_line(b"2 200").unwrap(), (2, 200));
    assert!(parse_list_line(b"2").is_err());
}

#[tokio::test]
async fn user_pass_list_retr_dele_quit() {
    // Whole responses, then every response split at every byte.
    for capacity in [1 << 20, 1] {
        user_pass_list_retr_dele_quit_through(capacity).await;
    }
}

async fn user_pass_list_retr_dele_quit_through(capacity: usize) {
    let (conn, server) = scripted_through(
        r#"
        S: +OK POP3 ready
        C: CAPA
        S: +OK
        S: TOP
        S: UIDL
        S: USER
        S: .
        C: USER bob
        S: +OK
        C: PASS s3cret
        S: +OK logged in
        C: UIDL
        S: +OK
        S: 1 aaa
        S: 2 bbb
        S: .
        C: LIST
        S: +OK 2 messages
        S: 1 120
        S: 2 5
        S: .
        C: RETR 1
        S: +OK
        S: Subject: x
        S:
        S: ..leading dot
        S: body
        S: .
        C: DELE 1
        S: +OK marked
        C: QUIT
        S: +OK bye
        "#,
        capacity,
    );
    let mut c = Pop3Client::start(conn).await.unwrap();
    c.capa().await.unwrap();
    assert!(c.has_capability("uidl"));
    assert!(!c.has_capability("STLS"));
    c.login("bob", "s3cret").await.unwrap();
    let list = c.list().await.unwrap();
    assert_eq!(
        list,
        vec![
            Pop3Message {
                number: 1,
                uidl: "aaa".into(),
                size: 120
            },
            Pop3Message {
                number: 2,
                uidl: "bbb".into(),
                size: 5
            },
        ]
    );
    let body = c.retr(1, 1000).await.unwrap();
    assert_eq!(body, b"Subject: x\r\n\r\n.leading dot\r\nbody\r\n");
    c.dele(1).await.unwrap();
    c.quit().await.unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn auth_plain_when_offered_and_refusals() {
    // "\0bob\0pw" in base64.
    let (conn, server) = scripted(
        r#"
        S: +OK hi
        C: CAPA
        S: +OK
        S: SASL PLAIN LOGIN
        S: .
        C: AUTH PLAIN AGJvYgBwdw==
        S: -ERR [AUTH] invalid credentials
        "#,
    );
    let mut c = Pop3Client::start(conn).await.unwrap();
    c.capa().await.unwrap();
    let e = c.login("bob", "pw").await.unwrap_err();
    assert!(
        matches!(&e, FetchError::Auth(t) if t.contains("invalid credentials")),
        "{e}"
    );
    server.await.unwrap().unwrap();

    // No CAPA at all, then PASS refused.
    let (conn, server) = scripted(
        r#"
        S: +OK hi
        C: CAPA
        S: -ERR unknown command
        C: USER bob
        S: +OK
        C: PASS pw
        S: -ERR no
        "#,
    );
    let mut c = Pop3Client::start(conn).await.unwrap();
    assert!(c.capa().await.unwrap().is_empty());
    assert!(matches!(
        c.login("bob", "pw").await,
        Err(FetchError::Auth(_))
    ));
    server.await.unwrap().unwrap();

    // STLS not offered: a TLS error, not a plain-text login.
    let (conn, server) = scripted("S: +OK hi\nC: CAPA\nS: +OK\nS: USER\nS: .");
    let mut c = Pop3Client::start(conn).await.unwrap();
    c.capa().await.unwrap();
    let cfg = crate::net::client_tls::client_config(false).unwrap();
    assert!(matches!(
        c.stls(cfg, "localhost").await,
        Err(FetchError::Tls(_))
    ));
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn greeting_errors_size_bound_and_hangups() {
    let (conn, _server) = scripted("S: -ERR busy");
    assert!(matches!(
        Pop3Client::start(conn).await,
        Err(FetchError::Server(_))
    ));

    let (conn, _server) = scripted(
        r#"
        S: +OK
        C: RETR 1
        S: +OK
        S: 0123456789
        S: 0123456789
        S: .
        "#,
    );
    let mut c = Pop3Client::start(conn).await.unwrap();
    assert!(matches!(c.retr(1, 15).await, Err(FetchError::TooBig(15))));

    let (conn, _server) = scripted("S: +OK\nC: UIDL\nS: +OK\nS: 1 a\nCLOSE");
    let mut c = Pop3Client::start(conn).await.unwrap();
    assert!(matches!(c.list().await, Err(FetchError::Closed)));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever a server sends, the client ends with a result, never a panic.
    #[test]
    fn arbitrary_server_bytes_never_panic(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        prefix in proptest::prelude::any::<bool>(),
    ) {
        let mut input = if prefix { b"+OK hi\r\n".to_vec() } else { Vec::new() };
        input.extend_from_slice(&bytes);
        super::super::testing::block_on(async {
            let conn = super::super::testing::feeding(&input).await;
            if let Ok(mut c) = Pop3Client::start(conn).await {
                let _ = c.capa().await;
                let _ = c.list().await;
                let _ = c.retr(1, 100).await;
            }
        });
    }
}

/// UIDL (and LIST) answers are bounded in entries and bytes: a server that never ends its
/// listing gets a clear error instead of an ever-growing buffer.
#[tokio::test]
async fn an_endless_uidl_listing_is_refused() {
    let mut script = String::from("S: +OK ready\nC: UIDL\nS: +OK\n");
    for i in 1..=crate::fetch::MAX_LISTING_ENTRIES + 1 {
        script.push_str(&format!("S: {i} u{i}\n"));
    }
    let (conn, _server) = scripted(&script);
    let mut c = Pop3Client::start(conn).await.unwrap();
    match c.list().await {
        Err(FetchError::Protocol(e)) => assert!(e.contains("UIDL") && e.contains("entries"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn budgets_count_bytes_and_entries() {
    let mut b = crate::fetch::Budget::bytes(10);
    b.take(6).unwrap();
    assert!(matches!(b.take(5), Err(FetchError::TooBig(10))));
    let mut b = crate::fetch::Budget::listing("LIST", 1000);
    for _ in 0..crate::fetch::MAX_LISTING_ENTRIES {
        b.take(0).unwrap();
    }
    assert!(matches!(b.take(0), Err(FetchError::Protocol(_))));
    let mut b = crate::fetch::Budget::listing("LIST", 10);
    assert!(matches!(b.take(11), Err(FetchError::Protocol(_))));
}
