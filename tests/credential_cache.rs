//! The verified-credential cache end to end: a returning client is answered from memory
//! across IMAP, POP3 and SMTP AUTH; a password change, an account's deletion or the TTL
//! ends a cached login; a wrong password is never answered from the cache and is logged.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{Client, Imap, TestServer, PASSWORD};
use ferrymail::clock::{unix_now, ManualClock};

/// Logins the server answered from its cache so far.
fn served(server: &TestServer) -> u64 {
    server.handle().ctx.credentials.served()
}

/// LOGIN on a new IMAP connection; true when it was OK.
fn imap_login(server: &TestServer, user: &str, password: &str) -> bool {
    let mut c = Imap::connect(server.addr("imap"));
    let r = c.cmd(&format!("LOGIN {user} \"{password}\""));
    let last = r.last().cloned().unwrap_or_default();
    assert!(last.contains(" OK") || last.contains(" NO"), "{r:?}");
    last.contains(" OK")
}

/// USER/PASS on a new POP3 connection; true when PASS was accepted.
fn pop3_login(addr: SocketAddr, user: &str, password: &str) -> bool {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut w = stream;
    let mut line = String::new();
    let mut ask = |w: &mut TcpStream, cmd: &str| {
        if !cmd.is_empty() {
            w.write_all(format!("{cmd}\r\n").as_bytes()).expect("write");
        }
        line.clear();
        reader.read_line(&mut line).expect("read");
        line.clone()
    };
    assert!(ask(&mut w, "").starts_with("+OK"));
    assert!(ask(&mut w, &format!("USER {user}")).starts_with("+OK"));
    let r = ask(&mut w, &format!("PASS {password}"));
    let _ = ask(&mut w, "QUIT");
    r.starts_with("+OK")
}

fn auth_failures(server: &TestServer) -> Vec<String> {
    std::fs::read_to_string(server.data_dir().join("logs/auth-failures.log"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_returning_client_is_answered_from_the_cache_in_every_protocol() {
    let server = TestServer::start_with("allow_plaintext_auth = true");
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    assert_eq!(served(&server), 0, "the first login runs the full check");
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    assert_eq!(served(&server), 1, "the second one comes from the cache");
    assert!(pop3_login(server.addr("pop3"), "bob@example.com", PASSWORD));
    assert_eq!(served(&server), 2, "POP3 shares it");
    let mut smtp = Client::connect(server.addr("submission"));
    smtp.cmd("EHLO client.example.net");
    let r = smtp.auth_plain("bob@example.com", PASSWORD);
    assert!(r.starts_with("235"), "{r}");
    assert_eq!(served(&server), 3, "SMTP AUTH shares it");
    assert!(auth_failures(&server).is_empty());
}

#[test]
fn a_wrong_password_after_a_cached_login_fails_and_is_logged() {
    let server = TestServer::start();
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    assert_eq!(served(&server), 1);
    assert!(!imap_login(&server, "bob@example.com", "wrong horse"));
    assert_eq!(served(&server), 1);
    let log = auth_failures(&server);
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(
        log[0].contains("protocol=imap") && log[0].contains("account=bob@example.com"),
        "{log:?}"
    );
    assert!(!log.concat().contains("horse"), "no password in the log");
    // The right password still comes from the cache.
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    assert_eq!(served(&server), 2);
}

#[test]
fn a_password_change_from_the_console_ends_the_cached_login() {
    let server = TestServer::start();
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    let (ok, out) = server.console("account passwd bob@example.com --password new-horse");
    assert!(ok, "{out}");
    assert!(!imap_login(&server, "bob@example.com", PASSWORD));
    assert!(imap_login(&server, "bob@example.com", "new-horse"));
    assert!(imap_login(&server, "bob@example.com", "new-horse"));
    assert_eq!(served(&server), 1, "only the new password is cached");
    assert_eq!(
        auth_failures(&server).len(),
        1,
        "the old password was logged"
    );
}

#[test]
fn a_password_changed_in_storage_directly_ends_the_cached_login() {
    // Not through the console, so nothing tells the cache: the account record's digest,
    // checked on every hit, does.
    let server = TestServer::start();
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    assert_eq!(server.handle().ctx.credentials.len(), 1);
    server
        .store()
        .set_password("bob@example.com", "other-horse")
        .expect("set password");
    assert!(!imap_login(&server, "bob@example.com", PASSWORD));
    assert_eq!(served(&server), 1);
    assert!(imap_login(&server, "bob@example.com", "other-horse"));
}

#[test]
fn a_deleted_account_cannot_log_in_from_the_cache() {
    let server = TestServer::start();
    assert!(imap_login(&server, "alice@example.com", PASSWORD));
    let (ok, out) = server.console("account del alice@example.com");
    assert!(ok, "{out}");
    assert!(!imap_login(&server, "alice@example.com", PASSWORD));
    assert!(!pop3_login(
        server.addr("pop3"),
        "alice@example.com",
        PASSWORD
    ));
    assert_eq!(served(&server), 0);
    // Deleted behind the console's back: the digest check catches it too.
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    server
        .writers()
        .0
        .del_account("bob@example.com")
        .expect("delete");
    assert!(!imap_login(&server, "bob@example.com", PASSWORD));
    assert_eq!(served(&server), 0);
}

#[test]
fn a_cached_login_expires_after_the_ttl() {
    let clock = ManualClock::new(unix_now());
    let server = TestServer::start_opts("", Some(clock.clone()));
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    clock.advance(299);
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    assert_eq!(served(&server), 1, "still cached after 299 s");
    clock.advance(1);
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    assert_eq!(served(&server), 1, "300 s after: the full check again");
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    assert_eq!(served(&server), 2, "and cached anew");
}

#[test]
fn a_zero_ttl_turns_the_cache_off() {
    let server = TestServer::start_full(
        "",
        "[auth]\nverify = false\ncredential_cache_ttl = 0\n",
        None,
    );
    for _ in 0..3 {
        assert!(imap_login(&server, "bob@example.com", PASSWORD));
    }
    assert_eq!(served(&server), 0);
    assert!(server.handle().ctx.credentials.is_empty());
}

#[test]
fn turning_the_cache_off_by_reload_forgets_what_it_held() {
    let server = TestServer::start();
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    assert_eq!(served(&server), 1);
    let path = server.config_path();
    let text = std::fs::read_to_string(&path).expect("read config");
    let off = text.replacen("[auth]\n", "[auth]\ncredential_cache_ttl = 0\n", 1);
    assert_ne!(text, off, "the test config has an [auth] section");
    std::fs::write(&path, off).expect("write config");
    let (ok, out) = server.console("reload");
    assert!(ok, "{out}");
    assert!(imap_login(&server, "bob@example.com", PASSWORD));
    assert_eq!(served(&server), 1, "not answered from the cache any more");
    assert!(server.handle().ctx.credentials.is_empty(), "and emptied");
}
