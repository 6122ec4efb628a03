//! Real clients: Python's smtplib and swaks deliver into INBOX; the stored message is
//! byte-identical to what was sent apart from the added trace header.

mod common;

use std::process::Command;

use common::{without_trace, TestServer, PASSWORD};

const MESSAGE: &[u8] = b"From: Interop <bob@example.com>\r\nTo: bob@example.com\r\n\
Subject: interop \xc3\xa9t\xc3\xa9\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\nLine one.\r\n.line starting with a dot\r\n\r\n\
caf\xc3\xa9 \xe2\x82\xac\r\nlast line\r\n";

#[test]
fn python_smtplib_plain_starttls_smtps_and_auth() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let msg = dir.path().join("msg.eml");
    std::fs::write(&msg, MESSAGE).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/smtplib_clients.py"
    );
    let port = |s: &str| server.addr(s).port().to_string();
    let out = Command::new("python3")
        .arg(script)
        .args([
            "127.0.0.1",
            &port("smtp"),
            &port("submission"),
            &port("smtps"),
        ])
        .args(["bob@example.com", PASSWORD])
        .arg(&msg)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "smtplib: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let inbox = server.wait_inbox("bob@example.com", 4);
    assert_eq!(inbox.len(), 4);
    let mut tags = Vec::new();
    for stored in &inbox {
        let body = without_trace(stored);
        let (tag, rest) = body.split_at(body.iter().position(|b| *b == b'\n').unwrap() + 1);
        assert_eq!(rest, MESSAGE, "byte-identical after the trace header");
        tags.push(String::from_utf8_lossy(tag).trim().to_string());
        let text = String::from_utf8_lossy(stored);
        if !tag.ends_with(b"plain\r\n") {
            assert!(text.contains("ESMTPSA"), "TLS and AUTH in Received: {text}");
        }
    }
    tags.sort();
    assert_eq!(
        tags,
        [
            "X-Client: login",
            "X-Client: plain",
            "X-Client: smtps",
            "X-Client: starttls"
        ]
    );
}

fn swaks() -> Command {
    let c = Command::new("swaks");
    assert!(
        Command::new("swaks").arg("--version").output().is_ok(),
        "swaks is not installed (.ci/run installs it: apt-get install swaks)"
    );
    c
}

#[test]
fn swaks_plain_and_starttls_auth() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let msg = dir.path().join("msg.eml");
    // swaks always ends the data with CRLF . CRLF, adding its own line end: give it the
    // message without its last one.
    std::fs::write(&msg, &MESSAGE[..MESSAGE.len() - 2]).unwrap();
    let smtp = server.addr("smtp");
    let out = swaks()
        .args(["--server", "127.0.0.1", "--port", &smtp.port().to_string()])
        .args(["--from", "sender@example.net", "--to", "bob@example.com"])
        .args(["--helo", "swaks.example.net", "--data"])
        .arg(format!("@{}", msg.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "swaks: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("<-  250 2.0.0"), "{text}");

    let sub = server.addr("submission");
    let out = swaks()
        .args(["--server", "127.0.0.1", "--port", &sub.port().to_string()])
        .args([
            "--from",
            "bob@example.com",
            "--to",
            "bob@example.com",
            "-tls",
        ])
        .args([
            "--auth",
            "PLAIN",
            "--auth-user",
            "bob@example.com",
            "--auth-password",
            PASSWORD,
        ])
        .arg("--data")
        .arg(format!("@{}", msg.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "swaks: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("<-  220 2.0.0"), "STARTTLS: {text}");
    assert!(text.contains("235 2.7.0"), "AUTH: {text}");

    let inbox = server.wait_inbox("bob@example.com", 2);
    assert_eq!(inbox.len(), 2);
    for stored in &inbox {
        assert_eq!(without_trace(stored), MESSAGE);
    }
}
