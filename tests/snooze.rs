//! Snooze end to end, over real sockets on the real binary: a message delivered over SMTP
//! and read (\Seen set over IMAP) is snoozed through the webmail's HTTP form; IMAP no
//! longer finds it in INBOX but in `Snoozed`; the server is killed (SIGKILL) and started
//! again after the wake time, and the message is back in INBOX without \Seen (checked
//! over IMAP); a second one snoozed longer comes back later, by the restarted server's
//! timer.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::http::request;
use common::proc::{cli, Running};
use common::web::form_urlencoded_pairs;
use common::{Client, Imap, PASSWORD};

const BOB: &str = "bob@example.com";

fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("ferrymail.toml");
    std::fs::write(
        &path,
        format!(
            "hostname = \"mx.test\"\ndata_dir = \"data\"\n[listeners]\n\
             smtp = \"127.0.0.1:0\"\nimap = \"127.0.0.1:0\"\nhttps = \"127.0.0.1:0\"\n\
             [imap]\nallow_plaintext_login = true\n\
             [server]\nshutdown_grace = 5\n[auth]\nverify = false\n{}",
            common::storage_section(&dir.join("data"), "node-a")
        ),
    )
    .unwrap();
    path
}

/// The UIDs and FLAGS of `folder`'s messages over IMAP (empty when it has none).
fn imap_messages(imap: SocketAddr, folder: &str) -> Vec<String> {
    let mut c = Imap::login(imap, BOB);
    let r = c.cmd(&format!("SELECT {folder}"));
    assert!(r.last().unwrap().contains("OK"), "{r:?}");
    let r = c.cmd("UID FETCH 1:* (FLAGS)");
    let _ = c.cmd("LOGOUT");
    r.into_iter().filter(|l| l.starts_with("* ")).collect()
}

/// Polls `folder` until `ok` holds of its messages, at most 60 s.
fn wait_for(imap: SocketAddr, folder: &str, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let m = imap_messages(imap, folder);
        if ok(&m) || Instant::now() > deadline {
            return m;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A webmail session on the `https` listener: (cookie, CSRF token, INBOX id).
fn webmail_login(https: SocketAddr) -> (String, String, String) {
    let body = form_urlencoded_pairs(&[("address", BOB), ("password", PASSWORD)]);
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let r = request(https, true, "POST", "/login", &form, body.as_bytes());
    assert_eq!(r.status, 303, "{}", r.text());
    let cookie = r.cookie("fm_session").expect("a session cookie");
    let header = format!("fm_session={cookie}");
    let r = request(https, true, "GET", "/mail", &[("Cookie", &header)], b"");
    assert_eq!(r.status, 303, "{}", r.text());
    let inbox_path = r.header("location").expect("to the INBOX").to_string();
    let page = request(https, true, "GET", &inbox_path, &[("Cookie", &header)], b"").text();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("a CSRF field")
        .to_string();
    let inbox = inbox_path.trim_start_matches("/mail/").to_string();
    (cookie, csrf, inbox)
}

#[test]
fn snoozed_over_http_survives_sigkill_and_comes_back_unread() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    for args in [
        vec!["domain", "add", "example.com"],
        vec!["account", "add", BOB, "--password", PASSWORD],
    ] {
        let (ok, out) = cli(&config, &args);
        assert!(ok, "{out}");
    }
    let server = Running::start(&config);
    let (smtp, imap, https) = (
        server.addr("smtp"),
        server.addr("imap"),
        server.addr("https"),
    );
    for subject in ["Tax forms", "Ferry timetable"] {
        let reply = Client::connect(smtp).deliver(
            "carol@example.net",
            &[BOB],
            &format!("Subject: {subject}\r\n\r\nLater, please.\r\n"),
        );
        assert!(reply.starts_with("250"), "{reply}");
    }
    let inbox = wait_for(imap, "INBOX", |m| m.len() == 2);
    assert_eq!(inbox.len(), 2, "delivered: {inbox:?}");
    let uids: Vec<u32> = inbox
        .iter()
        .map(|l| {
            l.split("UID ")
                .nth(1)
                .and_then(|t| t.split([' ', ')']).next())
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("a UID in {l}"))
        })
        .collect();
    let mut c = Imap::login(imap, BOB);
    c.cmd("SELECT INBOX");
    let r = c.cmd("UID STORE 1:* +FLAGS (\\Seen)");
    assert!(r.last().unwrap().contains("OK"), "{r:?}");
    c.cmd("LOGOUT");

    // Snooze them over HTTP until 20 s and 30 s from now (bob has no time zone: UTC).
    let wake = ferrymail::clock::unix_now() + 20;
    let (cookie, csrf, inbox_id) = webmail_login(https);
    for (uid, wake) in [(uids[0], wake), (uids[1], wake + 10)] {
        let at = ferrymail::clock::iso8601(wake)
            .trim_end_matches('Z')
            .to_string();
        let body = form_urlencoded_pairs(&[
            ("csrf", csrf.as_str()),
            ("uid", uid.to_string().as_str()),
            ("when", "custom"),
            ("at", at.as_str()),
        ]);
        let r = request(
            https,
            true,
            "POST",
            &format!("/mail/{inbox_id}/snooze"),
            &[
                ("Cookie", &format!("fm_session={cookie}")),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            body.as_bytes(),
        );
        assert_eq!(r.status, 303, "{}", r.text());
    }
    assert_eq!(imap_messages(imap, "INBOX"), Vec::<String>::new());
    let snoozed = imap_messages(imap, "Snoozed");
    assert_eq!(snoozed.len(), 2, "{snoozed:?}");
    assert!(snoozed.iter().all(|m| m.contains("\\Seen")), "{snoozed:?}");

    // Killed, and started again once the wake time has passed.
    server.sigkill();
    for _ in 0..100 {
        if ferrymail::clock::unix_now() > wake {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let server = Running::start(&config);
    let imap = server.addr("imap");
    let back = wait_for(imap, "INBOX", |m| !m.is_empty());
    assert!(!back.is_empty(), "back in INBOX: {back:?}");
    assert!(!back[0].contains("\\Seen"), "back unread: {back:?}");
    // The later one comes back by the restarted server's timer.
    let back = wait_for(imap, "INBOX", |m| m.len() == 2);
    assert_eq!(back.len(), 2, "both back in INBOX: {back:?}");
    assert!(
        back.iter().all(|m| !m.contains("\\Seen")),
        "back unread: {back:?}"
    );
    assert_eq!(imap_messages(imap, "Snoozed"), Vec::<String>::new());
}
