//! The web listeners of the real binary (issue 13): `admin` answers over HTTPS with the
//! server's certificate, `http` in clear, `https` over TLS; `/health` shows figures on
//! admin only; every answer has the security headers, HSTS only over TLS; credentials
//! from loopback are accepted on plain HTTP (the rule's refusal of other addresses, which
//! a test on loopback cannot be, is tested on the rule itself in `http::security` and
//! through the middleware in `http::tests`).

mod common;

use std::path::{Path, PathBuf};

use common::http::{basic, get, request};
use common::proc::Running;

fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("ferrymail.toml");
    std::fs::write(
        &path,
        format!(
            "hostname = \"mx.test\"\ndata_dir = \"data\"\n[listeners]\n\
             http = \"127.0.0.1:0\"\nhttps = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n\
             [server]\nshutdown_grace = 5\n[auth]\nverify = false\n{}",
            common::storage_section(&dir.join("data"), "node-a")
        ),
    )
    .unwrap();
    path
}

/// The postmaster password printed at first start.
fn first_password(server: &Running) -> String {
    server
        .lines
        .iter()
        .find_map(|l| l.split(" with password ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no password line in {:?}", server.lines))
        .to_string()
}

#[test]
fn web_listeners_of_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let mut server = Running::start(&config);
    let (http, https, admin) = (
        server.addr("http"),
        server.addr("https"),
        server.addr("admin"),
    );

    // admin: HTTPS, figures.
    let res = get(admin, true, "/health");
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    assert_eq!(body["status"], "ok");
    assert!(body.get("queues").is_some(), "{body}");
    assert_eq!(
        res.header("strict-transport-security"),
        Some("max-age=31536000")
    );

    // http: clear, liveness only, no HSTS; https: TLS, liveness, HSTS.
    let res = get(http, false, "/health");
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), serde_json::json!({"status": "ok"}));
    assert_eq!(res.header("strict-transport-security"), None);
    let res = get(https, true, "/health");
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), serde_json::json!({"status": "ok"}));
    assert_eq!(
        res.header("strict-transport-security"),
        Some("max-age=31536000")
    );

    // HEAD /health answers as GET on every listener, without the body (monitors probe
    // with HEAD).
    for (addr, tls) in [(http, false), (https, true), (admin, true)] {
        let got = get(addr, tls, "/health");
        let res = request(addr, tls, "HEAD", "/health", &[], b"");
        assert_eq!(res.status, 200, "{addr}: {}", res.text());
        assert_eq!(res.header("content-type"), Some("application/json"));
        assert!(
            res.body.is_empty(),
            "{addr}: a body after HEAD: {}",
            res.text()
        );
        let length: usize = res
            .header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("{addr}: no Content-Length on HEAD"));
        assert!(length > 0, "{addr}: the GET body's length");
        assert!(
            length.abs_diff(got.body.len()) < 8,
            "{addr}: {length} vs GET"
        );
        assert!(
            res.header("x-frame-options").is_some(),
            "{addr}: the middleware ran"
        );
    }

    // The security headers on every answer, a 404 included.
    for (addr, tls) in [(http, false), (https, true), (admin, true)] {
        for path in ["/health", "/no/such/page"] {
            let res = get(addr, tls, path);
            let csp = res.header("content-security-policy").unwrap_or_default();
            assert!(csp.contains("default-src 'self'"), "{addr} {path}: {csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
            assert_eq!(res.header("x-frame-options"), Some("DENY"));
            assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
            assert_eq!(res.header("referrer-policy"), Some("no-referrer"));
        }
    }

    // Credentials over plain HTTP from loopback pass the plain-HTTP rule.
    let password = first_password(&server);
    let auth = basic("postmaster@mx.test", &password);
    let res = request(
        http,
        false,
        "GET",
        "/health",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.header("location"), None);

    assert!(server.sigterm().success());
}

/// A web request in progress when SIGTERM comes is answered before the binary exits: here a
/// 4 MiB PUT to the file store whose second half is sent only once the server has stopped
/// accepting connections. The file is whole after a restart.
#[test]
fn a_request_in_progress_finishes_before_the_binary_stops() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let mut server = Running::start(&config);
    let http = server.addr("http");
    let auth = basic("postmaster@mx.test", &first_password(&server));
    let body: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    let path = "/dav/files/postmaster@mx.test/upload.bin";

    let mut sock = TcpStream::connect(http).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    sock.write_all(first).unwrap();

    // SIGTERM, then wait (bounded) until the listener refuses new connections: the stop has
    // begun while the upload is half sent.
    unsafe {
        libc::kill(server.child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(http).is_ok() {
        assert!(Instant::now() < deadline, "the listener still accepts");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server exited with a request in progress"
    );

    sock.write_all(rest).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                // The answer has no body: its head is all of it.
                if raw.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(e) => panic!("read: {e} (after {} bytes)", raw.len()),
        }
    }
    let res = common::http::parse(&raw, true);
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&raw));
    drop(sock);
    assert!(server.sigterm().success());

    // Restarted: the file is there, whole.
    let mut server = Running::start(&config);
    let got = request(
        server.addr("http"),
        false,
        "GET",
        path,
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(got.status, 200, "{}", got.text());
    assert!(
        got.body == body,
        "the stored file differs ({} bytes)",
        got.body.len()
    );
    assert!(server.sigterm().success());
}
