//! Real POP3 clients against Ferrymail (issue 4): Python's poplib over pop3 with STLS and
//! over pop3s, and Debian's fetchmail retrieving and deleting mail over both.
//!
//! python3 and fetchmail are external programs that `.ci/run` installs. Outside CI a test
//! whose program is missing is skipped with a message saying so; in CI (CI=true) it fails.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{message, Client, TestServer, PASSWORD};

const BOB: &str = "bob@example.com";

/// Whether `program` runs; when it does not, says why the test does nothing (and fails in
/// CI, where it must be installed).
fn available(program: &str, version_arg: &str) -> bool {
    let found = Command::new(program).arg(version_arg).output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{program} is not installed (.ci/run installs it)"
        );
        eprintln!("skipped: {program} is not installed (apt-get install {program})");
    }
    found
}

fn deliver(server: &TestServer, subjects: &[&str]) -> Vec<Vec<u8>> {
    let before = server.inbox(BOB).len();
    let mut smtp = Client::connect(server.addr("smtp"));
    for s in subjects {
        let r = smtp.deliver("a@example.net", &[BOB], &message(s));
        assert!(r.starts_with("250"), "{r}");
    }
    let all = server.wait_inbox(BOB, before + subjects.len());
    assert_eq!(all.len(), before + subjects.len());
    all
}

#[test]
fn python_poplib_over_stls_and_pop3s() {
    if !available("python3", "--version") {
        return;
    }
    let server = TestServer::start();
    let stored = deliver(&server, &["one", "two", "three"]);
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.eml");
    std::fs::write(&first, &stored[0]).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/poplib_session.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(server.addr("pop3").port().to_string())
        .arg(server.addr("pop3s").port().to_string())
        .args([BOB, PASSWORD])
        .arg(&first)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "poplib: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Message 1 went over STLS, message 2 over pop3s: only the third is left.
    let left = server.inbox(BOB);
    assert_eq!(left, vec![stored[2].clone()]);
}

/// Runs fetchmail once against `port` (`implicit_tls`: pop3s, else STLS on pop3), delivering
/// through an MDA that writes each message to its own file in `out`, deleting what it
/// fetched. Returns fetchmail's output.
fn fetchmail(home: &Path, out: &Path, port: u16, implicit_tls: bool) -> String {
    let mda = home.join("mda.sh");
    std::fs::write(
        &mda,
        format!(
            "#!/bin/sh\ncat > \"{}/msg.$$.$(date +%s%N)\"\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&mda, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tls = if implicit_tls {
        "ssl"
    } else {
        // Without `ssl`, a TLS protocol floor makes fetchmail use STLS or give up.
        "sslproto TLS1.2+"
    };
    let rc = home.join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "set no bouncemail\n\
             poll 127.0.0.1 protocol POP3 port {port} timeout 20\n\
             \x20 user \"{BOB}\" there with password \"{PASSWORD}\" is root here\n\
             \x20 {tls} no sslcertck fetchall no keep\n\
             \x20 mda \"{}\"\n",
            mda.display()
        ),
    )
    .unwrap();
    // fetchmail refuses an rcfile others can read.
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let output = Command::new("fetchmail")
        .env("HOME", home)
        .env("FETCHMAILHOME", home)
        .args(["--nodetach", "--nosyslog", "-v", "-f"])
        .arg(&rc)
        .output()
        .expect("fetchmail runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Exit 0: mail was fetched (1 would be "no mail").
    assert!(output.status.success(), "fetchmail failed: {text}");
    text
}

/// The messages the MDA wrote, sorted by content.
fn fetched(out: &Path) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    v.sort();
    v
}

/// What fetchmail hands its MDA: its own Received header, then the message with LF line
/// ends.
fn as_delivered_by_fetchmail(stored: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(stored)
        .replace("\r\n", "\n")
        .into_bytes()
}

#[test]
fn fetchmail_retrieves_and_deletes_over_stls_and_pop3s() {
    if !available("fetchmail", "--version") {
        return;
    }
    let server = TestServer::start();
    for (round, implicit_tls) in [(0, false), (1, true)] {
        let stored = deliver(&server, &[&format!("fm{round}a"), &format!("fm{round}b")]);
        let home = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let service = if implicit_tls { "pop3s" } else { "pop3" };
        let log = fetchmail(
            home.path(),
            out.path(),
            server.addr(service).port(),
            implicit_tls,
        );
        if !implicit_tls {
            assert!(log.contains("POP3> STLS"), "no STLS in: {log}");
        } else {
            assert!(!log.contains("POP3> STLS"), "STLS on pop3s: {log}");
        }
        let got = fetched(out.path());
        assert_eq!(got.len(), 2, "{log}");
        for m in &stored {
            let want = as_delivered_by_fetchmail(m);
            assert!(
                got.iter().any(|g| g.ends_with(&want)),
                "message not delivered intact over {service}: {log}"
            );
        }
        // fetchmail deleted what it fetched (no keep), and the server expunged it.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !server.inbox(BOB).is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(server.inbox(BOB).is_empty(), "left on the server: {log}");
    }
}
