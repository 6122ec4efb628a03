//! The console's command set against a live server: status, queue commands, reload without
//! dropping sessions, and the REPL over a pipe.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{message, Client, TestServer};
use ferrymail::storage::QueueName;
use rustls_pki_types::CertificateDer;

#[test]
fn reload_applies_new_limits_to_new_sessions_without_dropping_open_ones() {
    let server = TestServer::start();
    let mut open = Client::connect(server.addr("smtp"));
    let ehlo = open.cmd("EHLO before.example.net");
    assert!(ehlo.contains("SIZE 100000"), "{ehlo}");

    let text = std::fs::read_to_string(server.config_path()).unwrap();
    std::fs::write(
        server.config_path(),
        text.replace("max_message_size = 100000", "max_message_size = 50000"),
    )
    .unwrap();
    let (ok, out) = server.console("reload");
    assert!(ok, "{out}");

    let mut fresh = Client::connect(server.addr("smtp"));
    let ehlo = fresh.cmd("EHLO after.example.net");
    assert!(ehlo.contains("SIZE 50000"), "{ehlo}");
    // The session opened before the reload is still there and still works.
    let r = open.deliver("a@example.net", &["bob@example.com"], &message("kept"));
    assert!(r.starts_with("250"), "{r}");

    // A broken config is refused with its problems, and the running one stays.
    std::fs::write(server.config_path(), "[smtp]\nmax_mesage_size = 1\n").unwrap();
    let (ok, out) = server.console("reload");
    assert!(!ok && out.contains("smtp.max_mesage_size"), "{out}");
    let mut third = Client::connect(server.addr("smtp"));
    assert!(third.cmd("EHLO x").contains("SIZE 50000"));
}

/// `reload` with a new certificate: the web listeners (admin, https) serve it from the
/// next connection on, as the mail listeners (imaps) do.
#[test]
fn reload_serves_a_new_certificate_on_the_web_listeners_too() {
    use rustls_pki_types::pem::PemObject;
    let server = TestServer::start();
    let certs = server.data_dir().join("certs");
    let before = CertificateDer::from_pem_file(certs.join("cert.pem")).expect("first cert");
    for service in ["admin", "https", "imaps"] {
        assert_eq!(served(server.addr(service)), before.to_vec(), "{service}");
    }
    let made = rcgen::generate_simple_self_signed(vec!["renewed.example.com".to_string()])
        .expect("new certificate");
    std::fs::write(certs.join("key.pem"), made.key_pair.serialize_pem()).expect("key");
    std::fs::write(certs.join("cert.pem"), made.cert.pem()).expect("cert");
    let (ok, out) = server.console("reload");
    assert!(ok, "{out}");
    assert_ne!(made.cert.der().to_vec(), before.to_vec());
    for service in ["admin", "https", "imaps"] {
        assert_eq!(
            served(server.addr(service)),
            made.cert.der().to_vec(),
            "{service} serves the reloaded certificate"
        );
    }
}

/// The end-entity certificate `addr` presents in a TLS handshake (DER).
fn served(addr: std::net::SocketAddr) -> Vec<u8> {
    let config = ferrymail::net::client_tls::client_config(false).expect("TLS config");
    let name = ferrymail::net::client_tls::server_name("localhost");
    let mut conn = rustls::ClientConnection::new(config, name).expect("TLS client");
    let mut sock = std::net::TcpStream::connect(addr).expect("connect");
    let bound = Some(std::time::Duration::from_secs(30));
    sock.set_read_timeout(bound).expect("timeout");
    sock.set_write_timeout(bound).expect("timeout");
    // Each round moves the handshake on or fails; a handshake is a few rounds.
    for _ in 0..16 {
        if !conn.is_handshaking() {
            break;
        }
        conn.complete_io(&mut sock).expect("handshake");
    }
    let chain = conn.peer_certificates().expect("the server's certificate");
    chain[0].to_vec()
}

#[test]
fn status_and_queue_commands() {
    let server = TestServer::start_with("allow_plaintext_auth = true");
    let (ok, out) = server.console("status");
    assert!(ok, "{out}");
    assert!(
        out.contains("uptime:") && out.contains("queues: inbound=0 local=0 remote=0"),
        "{out}"
    );

    // Put a message in the remote queue (authenticated relay), then work it with the console.
    let mut s = Client::connect(server.addr("submission"));
    s.cmd("EHLO c");
    use base64::Engine;
    let token =
        base64::engine::general_purpose::STANDARD.encode("\0bob@example.com\0correct horse");
    assert!(s.cmd(&format!("AUTH PLAIN {token}")).starts_with("235"));
    s.cmd("MAIL FROM:<bob@example.com>");
    s.cmd("RCPT TO:<far@elsewhere.example>");
    // The From: must be one bob may use (sender authorization), like the envelope.
    let msg = message("console").replace("sender@example.net", "bob@example.com");
    assert!(s.data(&msg).starts_with("250"));
    // The test resolver answers nothing, so the delivery attempt defers it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.queue_depth(QueueName::Deferred) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (ok, out) = server.console("queue list deferred");
    assert!(ok && out.contains("far@elsewhere.example"), "{out}");
    assert!(
        out.contains("next attempt") && out.contains("attempts 1"),
        "{out}"
    );
    let id = out
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let (ok, out) = server.console(&format!("queue show {id}"));
    assert!(
        ok && out.contains("queue: deferred") && out.contains("authenticated: bob@example.com"),
        "{out}"
    );
    let (ok, out) = server.console(&format!("queue move {id} bad"));
    assert!(ok, "{out}");
    assert_eq!(server.queue_depth(QueueName::Bad), 1);
    let (ok, out) = server.console(&format!("queue move {id} bad"));
    assert!(!ok && out.contains("already"), "{out}");
    let (ok, out) = server.console(&format!("queue delete {id}"));
    assert!(ok, "{out}");
    assert_eq!(server.queue_depth(QueueName::Bad), 0);
    let (ok, out) = server.console("queue show 0123");
    assert!(!ok && out.contains("no queued message"), "{out}");
    let (ok, out) = server.console("queue move 12 nowhere");
    assert!(!ok && out.contains("unknown queue"), "{out}");

    // A bad-queue record (its recipient did not exist) is retried once the address does:
    // back through inbound, routed, delivered.
    let store = server.store();
    let (_, queues) = server.writers();
    let blob = store
        .blobs()
        .put(b"Subject: lost\r\n\r\nfound\r\n")
        .unwrap();
    let id = store.next_queue_id().unwrap();
    queues
        .queue_put(&ferrymail::storage::QueueRecord {
            id,
            queue: QueueName::Bad,
            blob,
            size: 27,
            mail_from: "a@example.net".into(),
            recipients: vec![ferrymail::storage::QueueRecipient::new("lost@example.com")],
            params: Default::default(),
            received_at: 0,
            due: None,
            attempts: 0,
            last_error: Some("no such mailbox".into()),
            origin: "test".into(),
            auth_as: None,
            folder: None,
            history: Vec::new(),
        })
        .unwrap();
    let (ok, out) = server.console("alias add lost@example.com bob@example.com");
    assert!(ok, "{out}");
    let (ok, out) = server.console("alias list");
    assert!(
        ok && out.contains("lost@example.com -> bob@example.com"),
        "{out}"
    );
    let (ok, out) = server.console(&format!("queue retry {id:X}"));
    assert!(
        ok && out.contains("retried from bad, another attempt now: ") && out.ends_with(" in local"),
        "{out}"
    );
    let got = server.wait_inbox("bob@example.com", 1);
    assert_eq!(got.len(), 1);
    assert!(String::from_utf8_lossy(&got[0]).contains("found"));
    assert_eq!(server.queue_depth(QueueName::Bad), 0);
}

#[test]
fn console_repl_over_a_pipe() {
    let server = TestServer::start();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrymail"))
        .arg("console")
        .arg("--config")
        .arg(server.config_path())
        .env("HOME", server.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"status\ndomain add example.org\ndomain list\nacount list\nexit\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("uptime:"), "{text}");
    assert!(text.contains("example.org"), "{text}");
    assert!(text.contains("unknown command 'acount'"), "{text}");
    assert!(server.store().is_local_domain("example.org").unwrap());
}

/// `account 2fa` and `apikey` on the live server: the printed secret and key work, the key
/// goes with its revocation and with its owner's account.
#[test]
fn twofa_and_api_keys_on_a_live_server() {
    use ferrymail::admin::{apikey, twofa};
    let server = TestServer::start();
    let store = server.store();
    let (ok, out) = server.console("account 2fa begin bob@example.com");
    assert!(ok, "{out}");
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("secret: "))
        .expect("the secret is printed");
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .expect("base32");
    let now = ferrymail::clock::Clock::now(&ferrymail::clock::SystemClock) as u64;
    // The step may turn between here and the server's clock: either code of the window.
    let confirmed = [twofa::step_of(now), twofa::step_of(now) - 1]
        .iter()
        .map(|s| twofa::code_at(&secret, *s))
        .find_map(|code| {
            let (ok, out) = server.console(&format!("account 2fa confirm bob@example.com {code}"));
            ok.then_some(out)
        })
        .expect("a current code confirms");
    let recovery = confirmed.lines().nth(1).expect("recovery codes follow");
    assert!(twofa::verify(&store, "bob@example.com", recovery, now).unwrap());
    assert!(!twofa::verify(&store, "bob@example.com", recovery, now).unwrap());
    let (ok, out) = server.console("account 2fa status bob@example.com");
    assert!(ok && out.contains("on (9 recovery codes left)"), "{out}");

    let (ok, out) = server.console("apikey add alice@example.com monitoring --scope read-only");
    assert!(ok, "{out}");
    let key = out.lines().nth(1).expect("the key").to_string();
    let info = apikey::authenticate(&store, &key)
        .unwrap()
        .expect("the key works");
    assert_eq!(info.scope, apikey::Scope::ReadOnly);
    let (ok, out) = server.console("apikey list");
    assert!(ok && out.contains(&info.id) && !out.contains(&key), "{out}");
    let (ok, out) = server.console("account del alice@example.com");
    assert!(ok, "{out}");
    assert_eq!(apikey::authenticate(&store, &key).unwrap(), None);
    assert!(store.totp_get("bob@example.com").unwrap().is_some());
}

/// `account disable` refuses IMAP LOGIN and SMTP AUTH with the right password (even one the
/// credential cache remembers) while mail to the account is still delivered; `account enable`
/// lets it in again.
#[test]
fn a_disabled_account_cannot_log_in_but_still_receives_mail() {
    use base64::Engine;
    let server = TestServer::start_with("allow_plaintext_auth = true");
    let token =
        base64::engine::general_purpose::STANDARD.encode("\0bob@example.com\0correct horse");
    let smtp_auth = || {
        let mut s = Client::connect(server.addr("submission"));
        s.cmd("EHLO c");
        s.cmd(&format!("AUTH PLAIN {token}"))
    };
    let imap_login = || {
        let mut c = common::Imap::connect(server.addr("imap"));
        let r = c.cmd(&format!("LOGIN bob@example.com \"{}\"", common::PASSWORD));
        r.last().cloned().unwrap_or_default()
    };
    // Remembered by the credential cache first.
    assert!(imap_login().contains("OK"));
    assert!(smtp_auth().starts_with("235"));

    let (ok, out) = server.console("account disable bob@example.com");
    assert!(ok && out.contains("disabled"), "{out}");
    let (ok, out) = server.console("account list");
    assert!(ok && out.contains("bob@example.com (disabled)"), "{out}");
    let (ok, out) = server.console("account show bob@example.com");
    assert!(ok && out.contains("disabled:   yes"), "{out}");
    let refused = imap_login();
    assert!(refused.contains("NO"), "{refused}");
    let refused = smtp_auth();
    assert!(refused.starts_with("535"), "{refused}");

    // Mail to it is still accepted and delivered.
    let mut s = Client::connect(server.addr("smtp"));
    s.cmd("EHLO c");
    assert!(s.cmd("MAIL FROM:<sender@example.net>").starts_with("250"));
    assert!(s.cmd("RCPT TO:<bob@example.com>").starts_with("250"));
    assert!(s.data(&message("while disabled")).starts_with("250"));
    assert_eq!(server.wait_inbox("bob@example.com", 1).len(), 1);

    let (ok, out) = server.console("account enable bob@example.com");
    assert!(ok, "{out}");
    assert!(imap_login().contains("OK"));
    assert!(smtp_auth().starts_with("235"));
}
